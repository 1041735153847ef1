/*
 * The Lua scripts behind every store operation. Each runs atomically on the one Redis node
 * that owns the user's hash slot, so a multi-key change is never seen half done.
 *
 * Key layout (B is `<keyPrefix>{<tag>}:`, the tag shared by all keys of one user):
 *   B t:<id>       hash: the token record
 *                    u user id, h at-rest hash, c created (ms), l last used (ms),
 *                    d device, t own ttl (ms, -1 never), m meta (JSON), s scope,
 *                    ip / ua client of the last use; absent fields are empty
 *   B u:<userId>   hash: the user's index, token id -> device ('' when none)
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

-- Expiry is set as an absolute time from \`now\`, so the key ends exactly when the script
-- says it does, however long the script itself took to run.
local function apply_ttl(key, ttl, now)
  if ttl < 0 then redis.call('PERSIST', key) else redis.call('PEXPIREAT', key, now + ttl) end
end

-- Gives the index the TTL of its longest-lived token, or deletes it when none is left.
local function refresh_index_ttl(index, base)
  local ids = redis.call('HKEYS', index)
  local longest = 0
  for _, id in ipairs(ids) do
    local pttl = redis.call('PTTL', token_key(base, id))
    if pttl == -1 then
      redis.call('PERSIST', index)
      return
    end
    if pttl > longest then longest = pttl end
  end
  if longest > 0 then redis.call('PEXPIRE', index, longest) else redis.call('DEL', index) end
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
export const ISSUE = script(`
local index, record = KEYS[1], KEYS[2]
local user, device = ARGV[1], ARGV[3]
local ttl, store_ttl = tonumber(ARGV[4]), tonumber(ARGV[8])
local lifetime, limit = tonumber(ARGV[11]), tonumber(ARGV[12])
local base = string.sub(index, 1, #index - #user - 2)

if redis.call('EXISTS', record) == 1 then return {'collision'} end
local now = now_ms()

-- Sort the index into stale entries, tokens past their lifetime, replaced and live ones.
local stale, gone, replaced, live = {}, {}, {}, {}
local entries = redis.call('HGETALL', index)
for i = 1, #entries, 2 do
  local id, dev = entries[i], entries[i + 1]
  local r = read_owned(base, id, user, 'c', 'l')
  if not r then
    stale[#stale + 1] = id
  elseif past_lifetime(r[2], lifetime, now) then
    gone[#gone + 1] = id
  elseif device ~= '' and dev == device then
    replaced[#replaced + 1] = id
  else
    live[#live + 1] = {id = id, created = r[2], used = tonumber(r[3])}
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

local fields = {'u', user, 'h', ARGV[2], 'c', now, 'l', now}
if device ~= '' then fields[#fields + 1] = 'd'; fields[#fields + 1] = device end
if ARGV[5] == '1' then fields[#fields + 1] = 't'; fields[#fields + 1] = ttl end
if ARGV[6] ~= '' then fields[#fields + 1] = 'm'; fields[#fields + 1] = ARGV[6] end
if ARGV[7] ~= '' then fields[#fields + 1] = 's'; fields[#fields + 1] = ARGV[7] end
redis.call('HSET', record, unpack(fields))
local own_ttl = capped_ttl(ttl, now, lifetime, now)
if own_ttl >= 0 then redis.call('PEXPIREAT', record, now + own_ttl) end
out[4] = own_ttl
redis.call('HSET', index, string.sub(record, #base + 3), device)

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
`);

/*
 * verify
 * KEYS[1] record
 * ARGV    1 touch interval ms, 2 sliding '1'/'0', 3 store ttl ms (-1 never), 4 max lifetime
 *         ms (0 none), 5 client ip (''), 6 user agent (''), 7.. candidate hashes, newest key
 *         first
 * Returns {0} when no hash matches, {-1} when past its lifetime (the token is deleted), else
 *         {1, user, device, created, last used, ttl ms, meta, scope, ip, ua, now}.
 * Every candidate is compared whether or not the record exists, so an unknown id and a
 * wrong secret cost the same.
 */
export const VERIFY = script(`
local record = KEYS[1]
local r = redis.call('HMGET', record, 'h', 'u', 'd', 'c', 'l', 't', 'm', 's', 'ip', 'ua')
local stored = r[1] or ''
local matched = 0
for i = #ARGV, 7, -1 do
  if ARGV[i] == stored then matched = i end
end
if matched == 0 then return {0} end

local now = now_ms()
local lifetime = tonumber(ARGV[4])
local base = string.sub(record, 1, #record - ${ID_LENGTH} - 2)
local index = base .. 'u:' .. r[2]
if past_lifetime(r[4], lifetime, now) then
  drop(index, base, string.sub(record, #base + 3))
  refresh_index_ttl(index, base)
  return {-1}
end

-- Matched under an older server key: rewrite the hash under the newest one.
if matched > 7 then redis.call('HSET', record, 'h', ARGV[7]) end

local used = tonumber(r[5])
local ttl = redis.call('PTTL', record)
if now - used >= tonumber(ARGV[1]) then
  used = now
  local fields = {'l', now}
  if ARGV[5] ~= '' then fields[3] = 'ip'; fields[4] = ARGV[5]; r[9] = ARGV[5] end
  if ARGV[6] ~= '' then fields[#fields + 1] = 'ua'; fields[#fields + 1] = ARGV[6]; r[10] = ARGV[6] end
  redis.call('HSET', record, unpack(fields))
  if ARGV[2] == '1' and ttl >= 0 then
    -- A token issued to never expire keeps the expiry a login reset gave it.
    local renewed = capped_ttl(tonumber(r[6] or ARGV[3]), r[4], lifetime, now)
    if renewed >= 0 then
      ttl = renewed
      redis.call('PEXPIREAT', record, now + ttl)
      redis.call('PEXPIREAT', index, now + ttl, 'GT')
    end
  end
end
return {1, r[2], r[3] or '', r[4], used, ttl, r[7] or '', r[8] or '', r[9] or '', r[10] or '', now}
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
    out[#out + 1] = r[3]
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

/** The commands the store defines on its ioredis client, by name. */
export const COMMANDS = {
  mtIssue: { lua: ISSUE, numberOfKeys: 2 },
  mtVerify: { lua: VERIFY, numberOfKeys: 1 },
  mtRevoke: { lua: REVOKE, numberOfKeys: 1 },
  mtRevokeById: { lua: REVOKE_BY_ID, numberOfKeys: 2 },
  mtRevokeAll: { lua: REVOKE_ALL, numberOfKeys: 1 },
  mtList: { lua: LIST, numberOfKeys: 1 },
} as const;
