import { createHash, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { Redis } from 'ioredis';
import { runDurable } from './durable-write.js';
import {
  InvalidArgumentRangeError,
  InvalidArgumentTypeError,
  NotDurableError,
  RedisUnavailableError,
  StoreClosedError,
  TokenLimitError,
  UnexpectedReplyError,
} from './errors.js';
import {
  formatRecordRef,
  isLegacyShaped,
  legacyTokenArg,
  parseRecordRef,
  pointerKey,
  pointerTtl,
  type RecordRef,
} from './legacy-token.js';
import { COMMANDS } from './scripts.js';
import {
  DEFAULT_TOKEN_PREFIX,
  formatToken,
  isTokenId,
  isTokenPrefix,
  newTokenId,
  parseToken,
  storedHash,
  userTag,
} from './token-format.js';
import type {
  Durability,
  ImportedLookup,
  ImportOptions,
  ImportResult,
  IssuedToken,
  IssueOptions,
  RedisConnection,
  RevokeReason,
  TokenInfo,
  TokenStoreEvents,
  VerifyContext,
  WriteOptions,
} from './types.js';
import {
  booleanArg,
  type DurableWrite,
  deviceArg,
  durableArg,
  metaArg,
  nonNegativeInteger,
  oneOf,
  optionsArg,
  positiveInteger,
  scopeArg,
  tokenArg,
  ttlArg,
  userIdArg,
} from './validate.js';
import { VerifyCache, type VerifyCacheOptions, type VerifyCacheStats } from './verify-cache.js';

const debug = createDebug('passport-redis-multitokens:store');

const DAY = 24 * 60 * 60;
const MAX_USER_AGENT_LENGTH = 256;
const MIN_SECRET_BYTES = 16;
const ISSUE_ATTEMPTS = 3;

export interface TokenStoreOptions {
  /**
   * An ioredis `Redis` (single node or Sentinel) or `Cluster`, or a `redis://` URL. A store
   * closes in `close()` only a connection it made itself.
   * @default process.env.REDIS_URL, else 'redis://127.0.0.1:6379'
   */
  redis?: RedisConnection | string;
  /**
   * Namespace of every key the store writes. Must not contain `{` or `}`.
   * @default 'mt:'
   */
  keyPrefix?: string;
  /**
   * Seconds (units of `timeUnit`) a token lives; `null` for tokens that never expire.
   * @default 2592000 (30 days)
   */
  ttl?: number | null;
  /**
   * Issuing a token resets the TTL of the user's other live tokens to `ttl`.
   * @default true
   */
  resetTtlOnLogin?: boolean;
  /**
   * Lets that reset give never-expiring tokens a TTL too. With `false` they stay unexpiring.
   * @default true
   */
  overwriteNullTtl?: boolean;
  /**
   * Each successful verify pushes the token's expiry out to its `ttl` again, at most once
   * per `touchInterval`.
   * @default false
   */
  slidingTtl?: boolean;
  /**
   * Seconds (units of `timeUnit`) between two writes of `lastUsedAt` (and of sliding expiry)
   * for one token. `0` writes on every verify.
   * @default 60
   */
  touchInterval?: number;
  /**
   * Seconds (units of `timeUnit`) a token may live from its creation, however often it is
   * used; `null` for no cap.
   * @default null
   */
  maxLifetime?: number | null;
  /**
   * Most live tokens one user may hold; `null` for no limit.
   * @default null
   */
  maxTokensPerUser?: number | null;
  /**
   * What `issue` does at the limit: revoke the least recently used token, or throw
   * `TokenLimitError`.
   * @default 'evict-oldest'
   */
  onLimit?: 'evict-oldest' | 'reject';
  /**
   * A server key, or a list of keys newest first, that turns the at-rest hash into
   * HMAC-SHA-256. Tokens hashed under an older key in the list keep verifying.
   * @default undefined (plain SHA-256)
   */
  secret?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * The fixed start of every token, so secret scanners can find leaked ones:
   * lower-case letters and digits ending in `_`.
   * @default 'mt_'
   */
  tokenPrefix?: string;
  /**
   * Milliseconds a store operation may wait for Redis before it fails with
   * `RedisUnavailableError`.
   * @default 2000
   */
  timeout?: number;
  /**
   * Milliseconds in one unit of `ttl`, `touchInterval` and `maxLifetime` (and of a token's own
   * `ttl`). For tests that need tokens to expire within milliseconds; keep the default in
   * production. Expiry is still decided by Redis's own clock.
   * @default 1000 (the units are seconds)
   */
  timeUnit?: number;
  /**
   * Lets `verify` and `revoke` look up tokens brought in by `import` (any token not
   * starting with `tokenPrefix`): one more round trip for them. Off, such tokens are
   * rejected without a Redis call, as malformed ones. Turn it on while migrating.
   * @default false
   */
  importedTokens?: boolean;
  /**
   * Keeps recently verified tokens in this process, so that a repeated `verify` needs no
   * Redis call. Redis tells every process at once when a cached token changes (revoked,
   * replaced, touched): a revocation still takes effect everywhere within milliseconds.
   * Needs one more connection; not available on a Redis Cluster yet. `true` is `{}`.
   * @default false
   */
  cache?: boolean | VerifyCacheOptions;
  /**
   * Makes `issue` and the revoke calls resolve only once this many replicas hold the change
   * (Redis `WAIT`), and reject with `NotDurableError` when fewer acknowledge it within the
   * timeout: a number of replicas, or `{ replicas, timeout }` with the milliseconds to wait.
   * Each call may override it. Without it, a failover loses the writes the master had not
   * yet passed on: a token issued just before stops verifying, one revoked verifies again.
   * A durable call may take `timeout` plus the durable timeout before it fails.
   * @default 0 (off); the durable timeout defaults to 1000
   */
  durable?: Durability;
}

type Reply = Array<string | number | null>;

/** The fields a verify reads with one HMGET, in this order (the layout is in scripts.ts). */
const RECORD_FIELDS = ['h', 'u', 'd', 'c', 'l', 'm', 's', 'ip', 'ua', 'e'] as const;

/** Compared against when a record is missing, so an unknown id costs what a wrong secret does. */
const ABSENT_HASH = Buffer.alloc(32, 'A');

/** What a verify found: a live token and how long the answer may be cached, or why not. */
type Checked =
  | { status: 'live'; info: TokenInfo; fresh: number }
  | { status: 'unknown' | 'lifetime' };

/** A script call in flight, failed by the deadline timer when Redis stays silent. */
interface PendingCall {
  deadline: number;
  operation: string;
  reject: (err: Error) => void;
}

/** A script's reply, and the `NotDurableError` to throw once its effects are reported. */
interface Written {
  reply: Reply;
  shortfall: NotDurableError | null;
}

interface ScriptCommands {
  [name: string]: (...args: Array<string | number | Buffer>) => Promise<unknown>;
}

/** Names carry a hash of the script, so two versions of the package can share one client. */
const COMMAND_NAMES = Object.fromEntries(
  Object.entries(COMMANDS).map(([name, { lua }]) => {
    const digest = createHash('sha1').update(lua).digest('hex').slice(0, 8);
    return [name, `${name}_${digest}`];
  }),
) as Record<keyof typeof COMMANDS, string>;

/**
 * Keeps many bearer tokens per user in Redis: one per device, stored only as hashes, each
 * operation one atomic script on the user's hash slot.
 *
 * @example
 * Issue a token at login and revoke it at logout:
 * ```ts
 * const store = new TokenStore({ redis: 'redis://127.0.0.1:6379/2', ttl: 7 * 24 * 3600 })
 * const { token, id } = await store.issue(user.id, { device: req.body.deviceId })
 * // ... later, with the token from the Authorization header:
 * await store.revoke(token)
 * ```
 */
export class TokenStore extends EventEmitter<TokenStoreEvents> {
  readonly redis: RedisConnection;
  readonly keyPrefix: string;
  readonly ttl: number | null;
  readonly resetTtlOnLogin: boolean;
  readonly overwriteNullTtl: boolean;
  readonly slidingTtl: boolean;
  readonly touchInterval: number;
  readonly maxLifetime: number | null;
  readonly maxTokensPerUser: number | null;
  readonly onLimit: 'evict-oldest' | 'reject';
  readonly tokenPrefix: string;
  readonly timeout: number;
  readonly timeUnit: number;
  readonly importedTokens: boolean;
  /** Replicas every write waits for, and for how long; `null` when writes do not wait. */
  readonly durable: Readonly<DurableWrite> | null;

  readonly #ownsConnection: boolean;
  readonly #secrets: Buffer[] | undefined;
  readonly #commands: ScriptCommands;
  readonly #cache: VerifyCache | undefined;
  readonly #pending = new Set<PendingCall>();
  #deadlineTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options?: TokenStoreOptions) {
    super();
    const opts = optionsArg('TokenStore options', options) as TokenStoreOptions;
    this.keyPrefix = keyPrefixArg(opts.keyPrefix);
    this.ttl = ttlArg('ttl', opts.ttl, 30 * DAY);
    this.resetTtlOnLogin = booleanArg('resetTtlOnLogin', opts.resetTtlOnLogin, true);
    this.overwriteNullTtl = booleanArg('overwriteNullTtl', opts.overwriteNullTtl, true);
    this.slidingTtl = booleanArg('slidingTtl', opts.slidingTtl, false);
    this.touchInterval = nonNegativeInteger('touchInterval', opts.touchInterval ?? 60);
    this.maxLifetime = ttlArg('maxLifetime', opts.maxLifetime, null);
    this.maxTokensPerUser = ttlArg('maxTokensPerUser', opts.maxTokensPerUser, null);
    this.onLimit = oneOf('onLimit', opts.onLimit, ['evict-oldest', 'reject'], 'evict-oldest');
    this.tokenPrefix = tokenPrefixArg(opts.tokenPrefix);
    this.timeout = positiveInteger('timeout', opts.timeout ?? 2000);
    this.timeUnit = positiveInteger('timeUnit', opts.timeUnit ?? 1000);
    this.importedTokens = booleanArg('importedTokens', opts.importedTokens, false);
    this.durable = durableArg(opts.durable, null);
    this.#secrets = secretsArg(opts.secret);
    const cache = cacheArg(opts.cache);

    const redis = opts.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    if (typeof redis === 'string') {
      this.redis = connect(redis, this.timeout);
      this.#ownsConnection = true;
    } else if (isConnection(redis)) {
      this.redis = redis;
      this.#ownsConnection = false;
    } else {
      throw new InvalidArgumentTypeError('redis must be an ioredis Redis or Cluster, or a URL');
    }
    this.#commands = defineCommands(this.redis);
    if (cache !== null) {
      if (this.redis.isCluster) {
        throw new InvalidArgumentRangeError('cache does not work on a Redis Cluster yet');
      }
      const redis = this.redis as Redis;
      this.#cache = new VerifyCache(redis, this.keyPrefix, cache.maxEntries, this.timeout);
    }
  }

  /**
   * Issues a new token for a user. With a `device`, the device's previous token stops
   * verifying at once.
   *
   * @throws {TokenLimitError} at `maxTokensPerUser` when `onLimit` is `'reject'`
   * @throws {NotDurableError} when `durable` replicas did not acknowledge the token in time;
   *   the token is then revoked again and never handed out
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   */
  async issue(userId: string | number, options?: IssueOptions): Promise<IssuedToken> {
    const user = userIdArg(userId);
    const opts = optionsArg('issue options', options) as IssueOptions;
    const device = deviceArg(opts.device);
    const ttl = ttlArg('ttl', opts.ttl, this.ttl);
    const meta = metaArg(opts.meta);
    const scope = scopeArg(opts.scope);
    const durable = durableArg(opts.durable, this.durable);
    const tag = userTag(user);
    const index = this.#indexKey(tag, user);

    for (let attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      const id = newTokenId();
      const token = formatToken(this.tokenPrefix, tag, id);
      const record = this.#tokenKey(tag, id);
      const { reply, shortfall } = await this.#write(
        'issue',
        'mtIssue',
        durable,
        this.#issueArgs(index, record, user, this.#hashes(token)[0], {
          device,
          ttl,
          ownTtl: opts.ttl !== undefined,
          meta,
          scope,
          login: this.resetTtlOnLogin,
        }),
      );
      if (reply[0] === 'collision') continue;
      if (reply[0] === 'limit') throw new TokenLimitError(this.maxTokensPerUser ?? 0);
      if (reply[0] !== 'ok') throw new UnexpectedReplyError('issue');

      const [, first, now, expiresIn] = reply as [string, number, number, number];
      for (let i = 4; i < reply.length; i += 2) {
        const reason = reply[i + 1] as RevokeReason;
        this.#emitRevoked(String(reply[i]), user, reason);
      }
      if (shortfall !== null) {
        // The master holds a token no one will ever be given: take it back off the user's list.
        await this.#call('issue', 'mtRevokeById', [index, record, user]).catch(() => {});
        throw shortfall;
      }
      debug('issued %s for user %s%s', id, user, device === null ? '' : ` on ${device}`);
      this.emit('issued', { id, userId: user, device });
      return { token, id, first: first === 1, expiresAt: expiryDate(now, expiresIn) };
    }
    throw new UnexpectedReplyError('token id collided three times');
  }

  /**
   * Looks a token up. Returns `null` for any token that is malformed, unknown, expired or
   * revoked, without saying which; a malformed one costs no Redis call. A token not of the
   * store's format is looked up among the imported ones (see `import`; two round trips)
   * unless `importedTokens` is `false`.
   *
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   */
  async verify(token: string, context?: VerifyContext): Promise<TokenInfo | null> {
    if (this.#closed) throw new StoreClosedError();
    const parsed = parseToken(this.tokenPrefix, tokenArg(token));
    if (parsed === null) {
      if (this.importedTokens && isLegacyShaped(token, this.tokenPrefix)) {
        const found = await this.lookupImported(token, context);
        if (found.status === 'unknown') this.#emitRejected('unknown', null);
        return found.status === 'live' ? found.info : null;
      }
      this.#emitRejected('malformed', null);
      return null;
    }

    const key = this.#tokenKey(parsed.tag, parsed.id);
    const hashes = this.#hashes(token);
    const cache = this.#cache;
    const cached = cache?.get(key, hashes[0]);
    if (cached !== undefined) return this.#verified(cached);

    const ticket = cache?.begin(key);
    let checked: Checked;
    try {
      checked = await this.#check(parsed.id, key, hashes, context);
    } catch (err) {
      if (ticket !== undefined) cache?.settle(ticket, hashes[0], null, 0);
      throw err;
    }
    if (checked.status !== 'live') {
      if (ticket !== undefined) cache?.settle(ticket, hashes[0], null, 0);
      this.#emitRejected(checked.status, parsed.id);
      return null;
    }
    if (ticket !== undefined) cache?.settle(ticket, hashes[0], checked.info, checked.fresh);
    return this.#verified(checked.info);
  }

  /**
   * What the local cache reports: entries, hits, misses and whether its invalidation link
   * is up; `null` when the store has no cache.
   */
  cacheStats(): VerifyCacheStats | null {
    return this.#cache?.stats() ?? null;
  }

  /**
   * Brings a token of an older bearer setup (such as `passport-http-bearer` with a token
   * table) into the store for a user, hashed like every other token. From then on `verify`
   * accepts it from Redis alone, and `list`, `revokeById` and `revokeAll` treat it like any
   * other. Importing the same token again keeps the one record; a token that was imported and
   * has been revoked since stays revoked (`status: 'revoked'`) until its pointer expires.
   *
   * @throws {InvalidArgumentRangeError} for a token shorter than 8 or longer than 4096
   *   characters, with whitespace or control characters, starting with `tokenPrefix`, or
   *   already imported for another user; nothing is written
   * @throws {TokenLimitError} at `maxTokensPerUser` when `onLimit` is `'reject'`
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   *
   * @example
   * Copy an old token table over, keeping each token's device:
   * ```ts
   * for (const row of await db.query('select user_id, token, device from api_tokens')) {
   *   await store.import(row.user_id, row.token, { device: row.device ?? undefined })
   * }
   * ```
   */
  async import(
    userId: string | number,
    token: string,
    options?: ImportOptions,
  ): Promise<ImportResult> {
    const user = userIdArg(userId);
    const legacy = legacyTokenArg(token, this.tokenPrefix);
    const opts = optionsArg('import options', options) as ImportOptions;
    const device = deviceArg(opts.device);
    const ttl = ttlArg('ttl', opts.ttl, this.ttl);
    const meta = metaArg(opts.meta);
    const scope = scopeArg(opts.scope);
    const hashes = this.#hashes(legacy);
    const found = await this.#readPointer(hashes);
    if (found !== null && found.ref.userId !== user) throw importConflict();
    const tag = userTag(user);
    const index = this.#indexKey(tag, user);

    for (let attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      const id = newTokenId();
      const reply = await this.#call('import', 'mtImport', [
        ...this.#issueArgs(index, this.#tokenKey(tag, id), user, hashes[0], {
          device,
          ttl,
          ownTtl: opts.ttl !== undefined,
          meta,
          scope,
          // An import is no login: the user's other tokens keep their TTL.
          login: false,
        }),
        found?.ref.id ?? '',
        ...hashes,
      ]);
      const status = reply[0];
      if (status === 'collision') continue;
      if (status === 'limit') throw new TokenLimitError(this.maxTokensPerUser ?? 0);
      if (status === 'revoked') return { id: String(reply[1]), status, expiresAt: null };
      if (status === 'exists') {
        const existing = String(reply[1]);
        const ttlMs = Number(reply[2]);
        await this.#pointTo(hashes[0], { tag, id: existing, userId: user }, ttlMs, null);
        const expiresAt = ttlMs < 0 ? null : new Date(Date.now() + ttlMs);
        return { id: existing, status, expiresAt };
      }
      if (status !== 'ok') throw new UnexpectedReplyError('import');

      const [, , now, expiresIn] = reply as [string, number, number, number];
      await this.#pointTo(hashes[0], { tag, id, userId: user }, Number(expiresIn), index);
      for (let i = 4; i < reply.length; i += 2) {
        this.#emitRevoked(String(reply[i]), user, reply[i + 1] as RevokeReason);
      }
      debug('imported %s for user %s', id, user);
      this.emit('imported', { id, userId: user, device });
      return { id, status: 'imported', expiresAt: expiryDate(now, expiresIn) };
    }
    throw new UnexpectedReplyError('token id collided three times');
  }

  /**
   * Looks up a token that is not of the store's own format among the imported ones: its
   * info when live, `'revoked'` when it was imported and its record is gone since, and
   * `'unknown'` when it was never imported. Two round trips: the pointer, then the record.
   * A legacy fallback must refuse `'revoked'` tokens, or a logout would not hold.
   *
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   */
  async lookupImported(token: string, context?: VerifyContext): Promise<ImportedLookup> {
    const value = tokenArg(token);
    if (!isLegacyShaped(value, this.tokenPrefix)) return { status: 'unknown' };
    const hashes = this.#hashes(value);
    const found = await this.#readPointer(hashes);
    if (found === null) return { status: 'unknown' };

    const { ref } = found;
    const checked = await this.#check(ref.id, this.#tokenKey(ref.tag, ref.id), hashes, context);
    if (checked.status !== 'live') {
      this.#emitRejected(checked.status, ref.id);
      return { status: 'revoked' };
    }
    const { info } = checked;

    // The record's TTL may have grown (sliding expiry, a login elsewhere): the pointer must
    // keep outliving it. A pointer under an older server key moves to the newest one.
    const recordTtl =
      info.expiresAt === null ? -1 : Math.max(0, info.expiresAt.getTime() - Date.now());
    const wanted = pointerTtl(recordTtl, this.#toMs(this.ttl));
    const stale =
      found.ttl >= 0 && (wanted < 0 || found.ttl < recordTtl + (wanted - recordTtl) / 2);
    if (found.index > 0 || stale) {
      await this.#pointTo(hashes[0], ref, recordTtl, null).catch((err: Error) => {
        debug('pointer refresh of %s failed: %s', ref.id, err.message);
      });
    }

    return { status: 'live', info: this.#verified(info) };
  }

  /**
   * Revokes the token itself (a logout), an imported one too. Returns `false` when it was not
   * live.
   *
   * @throws {NotDurableError} when `durable` replicas did not acknowledge it in time; the
   *   token is revoked on the master all the same, and calling again is safe
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   */
  async revoke(token: string, options?: WriteOptions): Promise<boolean> {
    if (this.#closed) throw new StoreClosedError();
    const durable = this.#durableOption(options);
    let parsed = parseToken(this.tokenPrefix, tokenArg(token));
    if (parsed === null && this.importedTokens && isLegacyShaped(token, this.tokenPrefix)) {
      parsed = (await this.#readPointer(this.#hashes(token)))?.ref ?? null;
    }
    if (parsed === null) return false;

    const { reply, shortfall } = await this.#write('revoke', 'mtRevoke', durable, [
      this.#tokenKey(parsed.tag, parsed.id),
      ...this.#hashes(token),
    ]);
    if (reply[0] === 1) this.#emitRevoked(parsed.id, String(reply[1]), 'logout');
    if (shortfall !== null) throw shortfall;
    return reply[0] === 1;
  }

  /**
   * Revokes one of a user's tokens by its public id, as a device page does.
   * Returns `false` when the user holds no live token with that id.
   *
   * @throws {NotDurableError} as `revoke` does
   */
  async revokeById(userId: string | number, id: string, options?: WriteOptions): Promise<boolean> {
    const user = userIdArg(userId);
    if (typeof id !== 'string') throw new InvalidArgumentTypeError('id must be a string');
    const durable = this.#durableOption(options);
    if (!isTokenId(id)) return false;

    const tag = userTag(user);
    const { reply, shortfall } = await this.#write('revokeById', 'mtRevokeById', durable, [
      this.#indexKey(tag, user),
      this.#tokenKey(tag, id),
      user,
    ]);
    const revoked = Number(reply[0]) === 1;
    if (revoked) this.#emitRevoked(id, user, 'logout');
    if (shortfall !== null) throw shortfall;
    return revoked;
  }

  /**
   * Revokes every token of a user ("sign out everywhere"). Returns how many were live.
   *
   * @throws {NotDurableError} as `revoke` does
   */
  async revokeAll(userId: string | number, options?: WriteOptions): Promise<number> {
    const user = userIdArg(userId);
    return this.#revokeAllBut(user, '', 'logout-all', this.#durableOption(options));
  }

  /**
   * Revokes every token of a user but the one with `keepId`. Returns how many were live.
   *
   * @throws {NotDurableError} as `revoke` does
   */
  async revokeOthers(
    userId: string | number,
    keepId: string,
    options?: WriteOptions,
  ): Promise<number> {
    const user = userIdArg(userId);
    if (typeof keepId !== 'string') throw new InvalidArgumentTypeError('keepId must be a string');
    if (!isTokenId(keepId)) throw new InvalidArgumentRangeError('keepId is not a token id');
    return this.#revokeAllBut(user, keepId, 'logout-others', this.#durableOption(options));
  }

  /** The user's live tokens, newest first. Holds no secret and no expired or revoked token. */
  async list(userId: string | number): Promise<TokenInfo[]> {
    const user = userIdArg(userId);
    const reply = await this.#call('list', 'mtList', [
      this.#indexKey(userTag(user), user),
      user,
      this.#lifetimeMs(),
    ]);
    const now = Number(reply[0]);
    const tokens: TokenInfo[] = [];
    for (let i = 1; i + 9 <= reply.length; i += 9) {
      const [device, created, used, ttl, meta, scope, ip, ua] = reply
        .slice(i + 1, i + 9)
        .map((field) => (field === '' ? null : String(field)));
      tokens.push(
        tokenInfo(String(reply[i]), user, {
          device,
          created: Number(created),
          used: Number(used),
          expiresAt: Number(ttl) < 0 ? -1 : now + Number(ttl),
          meta,
          scope,
          ip,
          ua,
        }),
      );
    }
    return tokens.sort(
      (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : 1),
    );
  }

  /** Stops the store. Closes the Redis connection when the store opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#cache?.close();
    if (this.#ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  async #revokeAllBut(
    user: string,
    keep: string,
    reason: RevokeReason,
    durable: DurableWrite | null,
  ): Promise<number> {
    const { reply, shortfall } = await this.#write('revokeAll', 'mtRevokeAll', durable, [
      this.#indexKey(userTag(user), user),
      user,
      keep,
    ]);
    for (const id of reply) this.#emitRevoked(String(id), user, reason);
    if (shortfall !== null) throw shortfall;
    return reply.length;
  }

  #durableOption(options: WriteOptions | undefined): DurableWrite | null {
    const opts = optionsArg('options', options) as WriteOptions;
    return durableArg(opts.durable, this.durable);
  }

  /**
   * The verify itself: one HMGET of the record, the hash compared here in constant time, and
   * the touch script only when a write is due (at most once per `touchInterval`, or to move
   * the hash to the newest server key, or to let Redis's clock judge `maxLifetime`).
   */
  async #check(
    id: string,
    key: string,
    hashes: string[],
    context: VerifyContext | undefined,
  ): Promise<Checked> {
    const fields = await this.#run('verify', () => this.redis.hmget(key, ...RECORD_FIELDS));
    const [stored, userId, device, created, used, meta, scope, ip, ua, expiry] = fields as Array<
      string | null
    >;
    const matched = matchHash(stored, hashes);
    if (matched < 0 || userId === null || created === null) return { status: 'unknown' };

    const now = Date.now();
    const createdAt = Number(created);
    const lifetimeEnd =
      this.maxLifetime === null
        ? Number.POSITIVE_INFINITY
        : createdAt + this.maxLifetime * this.timeUnit;
    let lastUsed = Number(used ?? created);
    let expiresAt = expiry === null ? -1 : Number(expiry);
    let [lastIp, lastUserAgent] = [ip, ua];
    if (matched > 0 || now - lastUsed >= this.touchInterval * this.timeUnit || now >= lifetimeEnd) {
      const userAgent = context?.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? '';
      const reply = await this.#call('verify', 'mtTouch', [
        key,
        stored as string,
        hashes[0],
        this.touchInterval * this.timeUnit,
        flag(this.slidingTtl),
        this.#toMs(this.ttl),
        this.#lifetimeMs(),
        context?.ip ?? '',
        userAgent,
      ]);
      if (reply[0] === 0) return { status: 'unknown' };
      if (reply[0] === -1) return { status: 'lifetime' };
      lastUsed = Number(reply[1]);
      expiresAt = Number(reply[2]);
      if (reply[3] === 1) {
        lastIp = context?.ip || lastIp;
        lastUserAgent = userAgent || lastUserAgent;
      }
    }

    const info = tokenInfo(id, userId, {
      device,
      created: createdAt,
      used: lastUsed,
      expiresAt,
      meta,
      scope,
      ip: lastIp,
      ua: lastUserAgent,
    });
    // The answer holds until the token expires, ends its lifetime, or is due a touch.
    let fresh = this.touchInterval * this.timeUnit - (now - lastUsed);
    if (expiresAt >= 0) fresh = Math.min(fresh, expiresAt - now);
    fresh = Math.min(fresh, lifetimeEnd - now);
    return { status: 'live', info, fresh };
  }

  /** The first pointer found among a token's candidate hashes, newest server key first. */
  async #readPointer(
    hashes: string[],
  ): Promise<{ ref: RecordRef; ttl: number; index: number } | null> {
    const replies = await Promise.all(
      hashes.map((hash) =>
        this.#call('import lookup', 'mtReadPointer', [pointerKey(this.keyPrefix, hash)]),
      ),
    );
    for (const [index, reply] of replies.entries()) {
      const ref = parseRecordRef(reply.length === 2 ? String(reply[0]) : null);
      if (ref !== null) return { ref, ttl: Number(reply[1]), index };
    }
    return null;
  }

  /**
   * Points a token's hash at its record, for as long as `pointerTtl` says. When the pointer
   * names another record (the token imported for another user at the same moment), a record
   * just written under `index` is taken back and the import fails.
   */
  async #pointTo(
    hash: string,
    ref: RecordRef,
    recordTtl: number,
    rollbackIndex: string | null,
  ): Promise<void> {
    const written = await this.#call('import', 'mtWritePointer', [
      pointerKey(this.keyPrefix, hash),
      formatRecordRef(ref),
      pointerTtl(recordTtl, this.#toMs(this.ttl)),
    ]);
    if (Number(written) === 1) return;
    if (rollbackIndex !== null) {
      await this.#call('import', 'mtRevokeById', [
        rollbackIndex,
        this.#tokenKey(ref.tag, ref.id),
        ref.userId,
      ]);
    }
    throw importConflict();
  }

  /** KEYS and ARGV of the issue script (scripts.ts), which import extends. */
  #issueArgs(
    index: string,
    record: string,
    user: string,
    hash: string,
    token: {
      device: string | null;
      ttl: number | null;
      ownTtl: boolean;
      meta: string;
      scope: string;
      login: boolean;
    },
  ): Array<string | number> {
    return [
      index,
      record,
      user,
      hash,
      token.device ?? '',
      this.#toMs(token.ttl),
      flag(token.ownTtl),
      token.meta,
      token.scope,
      this.#toMs(this.ttl),
      flag(token.login),
      flag(this.overwriteNullTtl),
      this.#lifetimeMs(),
      this.maxTokensPerUser ?? 0,
      this.onLimit,
    ];
  }

  /** A duration in `timeUnit`s as the scripts take it: milliseconds, or -1 for never. */
  #toMs(units: number | null): number {
    return units === null ? -1 : units * this.timeUnit;
  }

  #lifetimeMs(): number {
    return this.maxLifetime === null ? 0 : this.maxLifetime * this.timeUnit;
  }

  #tokenKey(tag: string, id: string): string {
    return `${this.keyPrefix}{${tag}}:t:${id}`;
  }

  #indexKey(tag: string, user: string): string {
    return `${this.keyPrefix}{${tag}}:u:${user}`;
  }

  /** The at-rest hashes a token may be stored under, newest server key first. */
  #hashes(token: string): string[] {
    if (this.#secrets === undefined) return [storedHash(token)];
    return this.#secrets.map((secret) => storedHash(token, secret));
  }

  /** Runs one script within `timeout`; any failure of Redis becomes `RedisUnavailableError`. */
  #call(
    operation: string,
    command: keyof typeof COMMANDS,
    args: Array<string | number | Buffer>,
  ): Promise<Reply> {
    return this.#run(operation, () => this.#commands[COMMAND_NAMES[command]](...args));
  }

  /** Sends one command within `timeout`; any failure of Redis becomes `RedisUnavailableError`. */
  #run(operation: string, send: () => Promise<unknown>): Promise<Reply> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise<Reply>((resolve, reject) => {
      const pending = { deadline: performance.now() + this.timeout, operation, reject };
      this.#pending.add(pending);
      if (this.#deadlineTimer === undefined) this.#armDeadlines(this.timeout);
      send().then(
        (reply) => {
          if (!this.#pending.delete(pending)) return;
          if (Array.isArray(reply)) resolve(reply as Reply);
          else if (typeof reply === 'number') resolve([reply]);
          else reject(new UnexpectedReplyError(operation));
        },
        (err: Error) => {
          if (!this.#pending.delete(pending)) return;
          debug('%s failed: %s', operation, err.message);
          reject(
            new RedisUnavailableError(`Redis failed during ${operation}: ${err.message}`, {
              cause: err,
            }),
          );
        },
      );
    });
  }

  /*
   * One timer serves every call in flight instead of one timer per call. Calls share one
   * `timeout`, so they reach their deadlines in the order they started: the timer fails the
   * overdue ones at the head of the set and sleeps until the next deadline.
   */
  #armDeadlines(delay: number): void {
    this.#deadlineTimer = setTimeout(() => this.#failOverdue(), delay);
  }

  #failOverdue(): void {
    this.#deadlineTimer = undefined;
    const now = performance.now();
    for (const pending of this.#pending) {
      if (pending.deadline > now) {
        this.#armDeadlines(pending.deadline - now);
        return;
      }
      this.#pending.delete(pending);
      debug('%s: no answer within %d ms', pending.operation, this.timeout);
      pending.reject(
        new RedisUnavailableError(
          `Redis did not answer ${pending.operation} within ${this.timeout} ms`,
        ),
      );
    }
  }

  /**
   * Runs one script, and with `durable` waits for replicas to acknowledge it. Bounded by
   * `timeout`, plus the durable timeout when there is one.
   */
  async #write(
    operation: string,
    command: keyof typeof COMMANDS,
    durable: DurableWrite | null,
    args: Array<string | number | Buffer>,
  ): Promise<Written> {
    if (durable === null)
      return { reply: await this.#call(operation, command, args), shortfall: null };
    if (this.#closed) throw new StoreClosedError();
    const limit = this.timeout + (durable?.timeout ?? 0);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        debug('%s: no answer within %d ms', operation, limit);
        reject(new RedisUnavailableError(`Redis did not answer ${operation} within ${limit} ms`));
      }, limit);
    });
    const name = COMMAND_NAMES[command];
    const sent = runDurable(
      this.redis,
      { name, ...COMMANDS[command] },
      args,
      durable,
      Date.now() + limit,
    );
    const call = sent.then(
      ({ reply, acknowledged }) => {
        if (!Array.isArray(reply) && typeof reply !== 'number') {
          throw new UnexpectedReplyError(operation);
        }
        const short = acknowledged < durable.replicas;
        if (short) debug('%s: %d of %d replicas', operation, acknowledged, durable.replicas);
        return {
          reply: (Array.isArray(reply) ? reply : [reply]) as Reply,
          shortfall: short ? new NotDurableError(durable.replicas, acknowledged) : null,
        };
      },
      (err: Error) => {
        debug('%s failed: %s', operation, err.message);
        throw new RedisUnavailableError(`Redis failed during ${operation}: ${err.message}`, {
          cause: err,
        });
      },
    );
    try {
      return await Promise.race([call, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  #verified(info: TokenInfo): TokenInfo {
    if (this.listenerCount('verified') > 0) {
      this.emit('verified', { id: info.id, userId: info.userId });
    }
    return info;
  }

  #emitRevoked(id: string, userId: string, reason: RevokeReason): void {
    this.#cache?.forget(this.#tokenKey(userTag(userId), id));
    debug('revoked %s of user %s (%s)', id, userId, reason);
    this.emit('revoked', { id, userId, reason });
  }

  #emitRejected(reason: 'malformed' | 'unknown' | 'lifetime', id: string | null): void {
    if (this.listenerCount('rejected') > 0) this.emit('rejected', { reason, id });
  }
}

function connect(url: string, timeout: number): Redis {
  if (!/^rediss?:\/\//.test(url)) {
    throw new InvalidArgumentRangeError('redis must be a redis:// or rediss:// URL');
  }
  const client = new Redis(url, {
    // Fail fast and reconnect soon: the store bounds every call with its own timeout, and a
    // reconnect attempt at least every 500 ms (ioredis backs off to 5 s by default) serves
    // again within about half a second of Redis answering, however long the outage was.
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 50, 500),
    // A host that drops packets would hold each attempt for ioredis's default 10 s; no call
    // waits longer than `timeout` anyway.
    connectTimeout: timeout,
  });
  client.on('error', (err: Error) => debug('redis connection: %s', err.message));
  return client;
}

function isConnection(value: unknown): value is RedisConnection {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { defineCommand?: unknown }).defineCommand === 'function' &&
    typeof (value as { quit?: unknown }).quit === 'function'
  );
}

function defineCommands(redis: RedisConnection): ScriptCommands {
  const commands = redis as unknown as ScriptCommands;
  for (const [name, definition] of Object.entries(COMMANDS)) {
    const fullName = COMMAND_NAMES[name as keyof typeof COMMANDS];
    if (typeof commands[fullName] !== 'function') redis.defineCommand(fullName, definition);
  }
  return commands;
}

function cacheArg(value: unknown): Required<VerifyCacheOptions> | null {
  if (value === undefined || value === false) return null;
  if (value === true) return { maxEntries: 10_000 };
  const opts = optionsArg('cache', value) as VerifyCacheOptions;
  return { maxEntries: positiveInteger('cache.maxEntries', opts.maxEntries ?? 10_000) };
}

function keyPrefixArg(value: unknown): string {
  if (value === undefined) return 'mt:';
  if (typeof value !== 'string') throw new InvalidArgumentTypeError('keyPrefix must be a string');
  if (/[{}]/.test(value) || value.length > 64) {
    throw new InvalidArgumentRangeError('keyPrefix must be at most 64 characters without { or }');
  }
  return value;
}

function tokenPrefixArg(value: unknown): string {
  if (value === undefined) return DEFAULT_TOKEN_PREFIX;
  if (typeof value !== 'string') throw new InvalidArgumentTypeError('tokenPrefix must be a string');
  if (!isTokenPrefix(value)) {
    throw new InvalidArgumentRangeError(
      'tokenPrefix must be a lower-case letter, up to 15 letters or digits, and a final _',
    );
  }
  return value;
}

function secretsArg(value: unknown): Buffer[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new InvalidArgumentRangeError('secret must not be an empty list');
  return list.map((secret) => {
    const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (!Buffer.isBuffer(key)) {
      throw new InvalidArgumentTypeError('secret must be a string, a Buffer or a list of them');
    }
    if (key.length < MIN_SECRET_BYTES) {
      throw new InvalidArgumentRangeError(`secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    return Buffer.from(key);
  });
}

/** Which candidate hash the stored one equals (-1 for none), comparing every one of them. */
function matchHash(stored: string | null, candidates: string[]): number {
  const have = stored === null ? ABSENT_HASH : Buffer.from(stored);
  let found = -1;
  for (let i = candidates.length - 1; i >= 0; i--) {
    const want = Buffer.from(candidates[i]);
    if (want.length === have.length && timingSafeEqual(want, have)) found = i;
  }
  return stored === null ? -1 : found;
}

function flag(value: boolean): string {
  return value ? '1' : '0';
}

function expiryDate(now: number | string, expiresIn: number | string): Date | null {
  const ms = Number(expiresIn);
  return ms < 0 ? null : new Date(Number(now) + ms);
}

/** A record's fields as read from Redis: `null` where absent, times in ms (-1: never). */
interface RecordFields {
  device: string | null;
  created: number;
  used: number;
  expiresAt: number;
  meta: string | null;
  scope: string | null;
  ip: string | null;
  ua: string | null;
}

/** Builds the `TokenInfo` that `verify` and `list` return from a record's fields. */
function tokenInfo(id: string, userId: string, fields: RecordFields): TokenInfo {
  return {
    id,
    userId,
    device: fields.device,
    createdAt: new Date(fields.created),
    lastUsedAt: new Date(fields.used),
    expiresAt: fields.expiresAt < 0 ? null : new Date(fields.expiresAt),
    meta: fields.meta === null ? {} : (JSON.parse(fields.meta) as Record<string, string>),
    scope: fields.scope === null ? [] : fields.scope.split(' '),
    lastIp: fields.ip,
    lastUserAgent: fields.ua,
  };
}

function importConflict(): InvalidArgumentRangeError {
  return new InvalidArgumentRangeError('the token was already imported for another user');
}
