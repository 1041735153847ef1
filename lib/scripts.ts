/*
 * The Lua scripts behind every store operation. Each runs atomically on the one Redis node
 * that owns the user's hash slot, so a multi-key change is never seen half done.
 *
 * Key layout (B is `<keyPrefix>{<tag>}:`, the tag shared by all keys of one user):
 *   B t:<id>       hash: the token record
 *                    u user id, h at-rest hash (32 base64url characters), c created (ms),
 *                    l last used (ms; absent until the first recorded use, read as c),
 *                    d device, t own ttl (ms, -1 never), e expiry (ms; absent: never),
 *                    m meta (JSON), s scope,
 *                    ip / ua client of the last use; absent fields are empty
 *   B u:<userId>   hash: the user's index, token id -> '' (the device lives in the record
 *                    only, so that no byte is kept twice)
 * A token imported from an older setup also has a pointer in a slot of its own, named after
 * its hash (see legacy-token.ts): it leads `verify` to the record, which is an ordinary one.
 *
 * A record expires through its own Redis TTL; the index expires with its longest-lived
 * token. Scripts derive B from KEYS[1], so an ioredis `keyPrefix` on the client is kept.
 * Time is Redis's own (`TIME`): app servers with skewed clocks agree on expiry.
 */

const ID_LENGTH = 10;

const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function token_key(base, id)
  return base .. 't:' .. id
end

-- True when the token is past its absolute lifetime (maxLifetime, 0 = none).
local function past_lifetime(created, lifetime, now)
  return lifetime > 0 and now >= tonumber(created) + lifetime
end

-- The TTL a token gets now: its ttl (-1 = never) capped by what is left of its lifetime.
local function capped_ttl(ttl, created, lifetime, now)
  if lifetime <= 0 then return ttl end
  local left = tonumber(created) + lifetime - now
  if ttl < 0 or left < ttl then return left end
  return ttl
end

-- Sets a record's expiry and its field e together, so a plain read sees the expiry. It is
-- an absolute time from the script's own clock, so the key ends exactly when e says.
local function apply_ttl(key, ttl, now)
  if ttl < 0 then
    redis.call('PERSIST', key)
    redis.call('HDEL', key, 'e')
  else
    redis.call('PEXPIREAT', key, now + ttl)
    redis.call('HSET', key, 'e', now + ttl)
  end
end

-- Gives the index the TTL of its longest-lived token, or deletes it when none is left.
-- A PTTL of 0 is a token in its last millisecond: still a key, which a touch in that same
-- millisecond may extend, so the index must outlive it rather than vanish under it.
local function refresh_index_ttl(index, base)
  local ids = redis.call('HKEYS', index)
  local longest = -2
  for _, id in ipairs(ids) do
    local pttl = redis.call('PTTL', token_key(base, id))
    if pttl == -1 then
      redis.call('PERSIST', index)
      return
    end
    if pttl > longest then longest = pttl end
  end
  if longest >= 0 then
    redis.call('PEXPIRE', index, math.max(longest, 1))
  else
    redis.call('DEL', index)
  end
end

local function drop(index, base, id)
  redis.call('DEL', token_key(base, id))
  redis.call('HDEL', index, id)
end

-- Reads fields of a user's record; nil when it is gone or (an id reused under a shared tag
-- after its index entry went stale) belongs to someone else.
local function read_owned(base, id, user, ...)
  local r = redis.call('HMGET', token_key(base, id), 'u', ...)
  if r[1] ~= user then return nil end
  return r
end
`;

function script(body: string): string {
  return `${PRELUDE}\n${body}`;
}

/*
 * issue
 * KEYS[1] index, KEYS[2] record of the new token
 * ARGV    1 user id, 2 hash, 3 device ('' none), 4 ttl ms (-1 never), 5 '1' to store the ttl
 *         in the record, 6 meta JSON (''), 7 scope (''), 8 store ttl ms for the login reset,
 *         9 reset on login '1'/'0', 10 overwrite never-expiring '1'/'0', 11 max lifetime ms
 *         (0 none), 12 max tokens per user (0 none), 13 'reject' or 'evict-oldest'
 * Returns {'collision'} when the id is taken, {'limit'} when the limit rejects (nothing
 *         written), else {'ok', first 0/1, created ms, ttl ms, revoked id, reason, ...}.
 */
const ISSUE_BODY = `
local index, record = KEYS[1], KEYS[2]
local user, device = ARGV[1], ARGV[3]
local ttl, store_ttl = tonumber(ARGV[4]), tonumber(ARGV[8])
local lifetime, limit = tonumber(ARGV[11]), tonumber(ARGV[12])
local base = string.sub(index, 1, #index - #user - 2)

if redis.call('EXISTS', record) == 1 then return {'collision'} end
local now = now_ms()

-- Sort the index into stale entries, tokens past their lifetime, replaced and live ones.
local stale, gone, replaced, live = {}, {}, {}, {}
for _, id in ipairs(redis.call('HKEYS', index)) do
  local r = read_owned(base, id, user, 'c', 'l', 'd')
  if not r then
    stale[#stale + 1] = id
  elseif past_lifetime(r[2], lifetime, now) then
    gone[#gone + 1] = id
  elseif device ~= '' and r[4] == device then
    replaced[#replaced + 1] = id
  else
    live[#live + 1] = {id = id, created = r[2], used = tonumber(r[3] or r[2])}
  end
end

local evicted = {}
if limit > 0 and #live >= limit then
  if ARGV[13] == 'reject' then return {'limit'} end
  table.sort(live, function(a, b)
    if a.used ~= b.used then return a.used < b.used end
    return a.id < b.id
  end)
  while #live >= limit do
    evicted[#evicted + 1] = table.remove(live, 1).id
  end
end

local first = (#live + #replaced + #evicted == 0) and 1 or 0
local out = {'ok', first, now, 0}
for _, id in ipairs(stale) do redis.call('HDEL', index, id) end
for _, id in ipairs(gone) do drop(index, base, id) end
for _, id in ipairs(replaced) do
  drop(index, base, id)
  out[#out + 1] = id
  out[#out + 1] = 'replaced'
end
for _, id in ipairs(evicted) do
  drop(index, base, id)
  out[#out + 1] = id
  out[#out + 1] = 'limit'
end

local fields = {'u', user, 'h', ARGV[2], 'c', now}
if device ~= '' then fields[#fields + 1] = 'd'; fields[#fields + 1] = device end
if ARGV[5] == '1' then fields[#fields + 1] = 't'; fields[#fields + 1] = ttl end
if ARGV[6] ~= '' then fields[#fields + 1] = 'm'; fields[#fields + 1] = ARGV[6] end
if ARGV[7] ~= '' then fields[#fields + 1] = 's'; fields[#fields + 1] = ARGV[7] end
local own_ttl = capped_ttl(ttl, now, lifetime, now)
if own_ttl >= 0 then fields[#fields + 1] = 'e'; fields[#fields + 1] = now + own_ttl end
redis.call('HSET', record, unpack(fields))
if own_ttl >= 0 then redis.call('PEXPIREAT', record, now + own_ttl) end
out[4] = own_ttl
redis.call('HSET', index, string.sub(record, #base + 3), '')

if ARGV[9] == '1' then
  for _, token in ipairs(live) do
    local key = token_key(base, token.id)
    if ARGV[10] == '1' or redis.call('PTTL', key) ~= -1 then
      apply_ttl(key, capped_ttl(store_ttl, token.created, lifetime, now), now)
    end
  end
end
refresh_index_ttl(index, base)
return out
`;

export const ISSUE = script(ISSUE_BODY);

/*
 * import: issue with a given hash, once per token and user
 * KEYS and ARGV 1..13 as for issue (ARGV 2 the newest hash), then ARGV 14 the id the
 * token's pointer names ('' none), 15.. every hash the token may be stored under.
 * Returns {'exists', id, ttl ms} when the user already holds the token, {'revoked', id} when
 *         the pointer names a record that is gone (nothing written), else as issue.
 */
export const IMPORT = script(`
local ibase = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1] - 2)
local function holds(id)
  local r = redis.call('HMGET', token_key(ibase, id), 'u', 'h')
  if r[1] ~= ARGV[1] then return false end
  for i = 15, #ARGV do
    if ARGV[i] == r[2] then return true end
  end
  return false
end
if ARGV[14] ~= '' then
  if holds(ARGV[14]) then
    return {'exists', ARGV[14], redis.call('PTTL', token_key(ibase, ARGV[14]))}
  end
  return {'revoked', ARGV[14]}
end
-- Without a pointer (a first import, or one whose pointer write was lost) look through the
-- user's tokens, so that concurrent imports of one token converge on one record.
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
  if holds(id) then return {'exists', id, redis.call('PTTL', token_key(ibase, id))} end
end
${ISSUE_BODY}`);

/*
 * touch: the write half of a verify, run at most once per touch interval per token
 * (verify itself is a plain HMGET of the record, see RECORD_FIELDS in token-store.ts)
 * KEYS[1] record
 * ARGV    1 the stored hash verify matched, 2 the hash under the newest server key,
 *         3 touch interval ms, 4 sliding '1'/'0', 5 store ttl ms (-1 never), 6 max lifetime
 *         ms (0 none), 7 client ip (''), 8 user agent ('')
 * Returns {0} when the record is gone or holds another hash (revoked or replaced since the
 *         read), {-1} when past its lifetime (the token is deleted), else
 *         {1, last used ms, expiry ms (-1 never), 1 when this call recorded the use else 0,
 *         now ms}.
 * Redis's clock decides: the app only guessed from its own that a write was due.
 */
export const TOUCH = script(`
local record = KEYS[1]
local r = redis.call('HMGET', record, 'h', 'u', 'c', 'l', 't', 'e')
if not r[1] or (r[1] ~= ARGV[1] and r[1] ~= ARGV[2]) then return {0} end

local now = now_ms()
local lifetime = tonumber(ARGV[6])
local base = string.sub(record, 1, #record - ${ID_LENGTH} - 2)
local index = base .. 'u:' .. r[2]
if past_lifetime(r[3], lifetime, now) then
  drop(index, base, string.sub(record, #base + 3))
  refresh_index_ttl(index, base)
  return {-1}
end

-- Matched under an older server key: rewrite the hash under the newest one.
if r[1] ~= ARGV[2] then redis.call('HSET', record, 'h', ARGV[2]) end

local used, expiry, recorded = tonumber(r[4] or r[3]), tonumber(r[6] or -1), 0
if now - used >= tonumber(ARGV[3]) then
  used, recorded = now, 1
  local fields = {'l', now}
  if ARGV[7] ~= '' then fields[#fields + 1] = 'ip'; fields[#fields + 1] = ARGV[7] end
  if ARGV[8] ~= '' then fields[#fields + 1] = 'ua'; fields[#fields + 1] = ARGV[8] end
  redis.call('HSET', record, unpack(fields))
  if ARGV[4] == '1' and expiry >= 0 then
    local ttl = capped_ttl(tonumber(r[5] or ARGV[5]), r[3], lifetime, now)
    if ttl >= 0 then
      apply_ttl(record, ttl, now)
      expiry = now + ttl
      redis.call('PEXPIREAT', index, now + ttl, 'GT')
    end
  end
end
return {1, used, expiry, recorded, now}
`);

/*
 * revoke (by token)
 * KEYS[1] record
 * ARGV    candidate hashes, newest key first
 * Returns {0} when no live token matches, else {1, user id}.
 */
export const REVOKE = script(`
local record = KEYS[1]
local r = redis.call('HMGET', record, 'h', 'u')
local stored = r[1] or ''
local matched = false
for i = 1, #ARGV do
  if ARGV[i] == stored then matched = true end
end
if not matched then return {0} end
local base = string.sub(record, 1, #record - ${ID_LENGTH} - 2)
local index = base .. 'u:' .. r[2]
drop(index, base, string.sub(record, #base + 3))
refresh_index_ttl(index, base)
return {1, r[2]}
`);

/*
 * revokeById
 * KEYS[1] index, KEYS[2] record
 * ARGV    1 user id
 * Returns 1 when a live token of this user was revoked, else 0.
 */
export const REVOKE_BY_ID = script(`
local index, record = KEYS[1], KEYS[2]
local base = string.sub(index, 1, #index - #ARGV[1] - 2)
local id = string.sub(record, #base + 3)
if redis.call('HDEL', index, id) == 0 then return 0 end
local revoked = 0
if read_owned(base, id, ARGV[1]) then
  redis.call('DEL', record)
  revoked = 1
end
refresh_index_ttl(index, base)
return revoked
`);

/*
 * revokeAll / revokeOthers
 * KEYS[1] index
 * ARGV    1 user id, 2 id to keep ('' none)
 * Returns the ids of the live tokens revoked.
 */
export const REVOKE_ALL = script(`
local index, keep = KEYS[1], ARGV[2]
local base = string.sub(index, 1, #index - #ARGV[1] - 2)
local revoked = {}
for _, id in ipairs(redis.call('HKEYS', index)) do
  if id ~= keep then
    if read_owned(base, id, ARGV[1]) then
      redis.call('UNLINK', token_key(base, id))
      revoked[#revoked + 1] = id
    end
    redis.call('HDEL', index, id)
  end
end
refresh_index_ttl(index, base)
return revoked
`);

/*
 * list
 * KEYS[1] index
 * ARGV    1 user id, 2 max lifetime ms (0 none)
 * Returns {now, then per live token: id, device, created, last used, ttl ms, meta, scope,
 *         ip, ua}; dangling index entries and tokens past their lifetime are removed.
 */
export const LIST = script(`
local index = KEYS[1]
local base = string.sub(index, 1, #index - #ARGV[1] - 2)
local lifetime = tonumber(ARGV[2])
local now = now_ms()
local out, changed = {now}, false
for _, id in ipairs(redis.call('HKEYS', index)) do
  local key = token_key(base, id)
  local r = read_owned(base, id, ARGV[1], 'c', 'l', 'd', 'm', 's', 'ip', 'ua')
  if not r then
    redis.call('HDEL', index, id)
    changed = true
  elseif past_lifetime(r[2], lifetime, now) then
    drop(index, base, id)
    changed = true
  else
    out[#out + 1] = id
    out[#out + 1] = r[4] or ''
    out[#out + 1] = r[2]
    out[#out + 1] = r[3] or r[2]
    out[#out + 1] = redis.call('PTTL', key)
    out[#out + 1] = r[5] or ''
    out[#out + 1] = r[6] or ''
    out[#out + 1] = r[7] or ''
    out[#out + 1] = r[8] or ''
  end
end
if changed then refresh_index_ttl(index, base) end
return out
`);

/*
 * readPointer
 * KEYS[1] pointer of an imported token
 * Returns {} when there is none, else {value, ttl ms (-1 never)}.
 */
export const READ_POINTER = `
local value = redis.call('GET', KEYS[1])
if not value then return {} end
return {value, redis.call('PTTL', KEYS[1])}
`;

/*
 * writePointer: sets or refreshes a pointer, unless it names another record
 * KEYS[1] pointer
 * ARGV    1 value, 2 ttl ms (-1 never)
 * Returns 1 when written, 0 when the pointer names another record (nothing written).
 */
export const WRITE_POINTER = `
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) < 0 then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`;

/** The commands the store defines on its ioredis client, by name. */
export const COMMANDS = {
  mtIssue: { lua: ISSUE, numberOfKeys: 2 },
  mtImport: { lua: IMPORT, numberOfKeys: 2 },
  mtReadPointer: { lua: READ_POINTER, numberOfKeys: 1 },
  mtWritePointer: { lua: WRITE_POINTER, numberOfKeys: 1 },
  mtTouch: { lua: TOUCH, numberOfKeys: 1 },
  mtRevoke: { lua: REVOKE, numberOfKeys: 1 },
  mtRevokeById: { lua: REVOKE_BY_ID, numberOfKeys: 2 },
  mtRevokeAll: { lua: REVOKE_ALL, numberOfKeys: 1 },
  mtList: { lua: LIST, numberOfKeys: 1 },
} as const;
