import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { Redis } from 'ioredis';
import {
  InvalidArgumentRangeError,
  InvalidArgumentTypeError,
  RedisUnavailableError,
  StoreClosedError,
  TokenLimitError,
  UnexpectedReplyError,
} from './errors.js';
import { COMMANDS } from './scripts.js';
import {
  DEFAULT_TOKEN_PREFIX,
  formatToken,
  hashToken,
  isTokenId,
  isTokenPrefix,
  newTokenId,
  parseToken,
  userTag,
} from './token-format.js';
import type {
  IssuedToken,
  IssueOptions,
  RedisConnection,
  RevokeReason,
  TokenInfo,
  TokenStoreEvents,
  VerifyContext,
} from './types.js';
import {
  booleanArg,
  deviceArg,
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
}

type Reply = Array<string | number>;

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

  readonly #ownsConnection: boolean;
  readonly #secrets: Buffer[] | undefined;
  readonly #commands: ScriptCommands;
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
    this.#secrets = secretsArg(opts.secret);

    const redis = opts.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    if (typeof redis === 'string') {
      this.redis = connect(redis);
      this.#ownsConnection = true;
    } else if (isConnection(redis)) {
      this.redis = redis;
      this.#ownsConnection = false;
    } else {
      throw new InvalidArgumentTypeError('redis must be an ioredis Redis or Cluster, or a URL');
    }
    this.#commands = defineCommands(this.redis);
  }

  /**
   * Issues a new token for a user. With a `device`, the device's previous token stops
   * verifying at once.
   *
   * @throws {TokenLimitError} at `maxTokensPerUser` when `onLimit` is `'reject'`
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   */
  async issue(userId: string | number, options?: IssueOptions): Promise<IssuedToken> {
    const user = userIdArg(userId);
    const opts = optionsArg('issue options', options) as IssueOptions;
    const device = deviceArg(opts.device);
    const ttl = ttlArg('ttl', opts.ttl, this.ttl);
    const meta = metaArg(opts.meta);
    const scope = scopeArg(opts.scope);
    const tag = userTag(user);
    const index = this.#indexKey(tag, user);

    for (let attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      const id = newTokenId();
      const token = formatToken(this.tokenPrefix, tag, id);
      const reply = await this.#call('issue', 'mtIssue', [
        index,
        this.#tokenKey(tag, id),
        user,
        this.#hashes(token)[0],
        device ?? '',
        this.#toMs(ttl),
        opts.ttl === undefined ? '0' : '1',
        meta,
        scope,
        this.#toMs(this.ttl),
        flag(this.resetTtlOnLogin),
        flag(this.overwriteNullTtl),
        this.#lifetimeMs(),
        this.maxTokensPerUser ?? 0,
        this.onLimit,
      ]);
      if (reply[0] === 'collision') continue;
      if (reply[0] === 'limit') throw new TokenLimitError(this.maxTokensPerUser ?? 0);
      if (reply[0] !== 'ok') throw new UnexpectedReplyError('issue');

      const [, first, now, expiresIn] = reply as [string, number, number, number];
      for (let i = 4; i < reply.length; i += 2) {
        const reason = reply[i + 1] as RevokeReason;
        this.#emitRevoked(String(reply[i]), user, reason);
      }
      debug('issued %s for user %s%s', id, user, device === null ? '' : ` on ${device}`);
      this.emit('issued', { id, userId: user, device });
      return { token, id, first: first === 1, expiresAt: expiryDate(now, expiresIn) };
    }
    throw new UnexpectedReplyError('token id collided three times');
  }

  /**
   * Looks a token up. Returns `null` for any token that is malformed, unknown, expired or
   * revoked, without saying which; a malformed one costs no Redis call.
   *
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   */
  async verify(token: string, context?: VerifyContext): Promise<TokenInfo | null> {
    const parsed = parseToken(this.tokenPrefix, tokenArg(token));
    if (parsed === null) {
      this.#emitRejected('malformed', null);
      return null;
    }

    const reply = await this.#call('verify', 'mtVerify', [
      this.#tokenKey(parsed.tag, parsed.id),
      this.touchInterval * this.timeUnit,
      flag(this.slidingTtl),
      this.#toMs(this.ttl),
      this.#lifetimeMs(),
      context?.ip ?? '',
      context?.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? '',
      ...this.#hashes(token),
    ]);
    if (reply[0] !== 1) {
      this.#emitRejected(reply[0] === -1 ? 'lifetime' : 'unknown', parsed.id);
      return null;
    }

    const [, userId, device, created, used, expiresIn, meta, scope, ip, ua, now] = reply;
    const info = tokenInfo(
      parsed.id,
      String(userId),
      [device, created, used, expiresIn, meta, scope, ip, ua],
      now,
    );
    if (this.listenerCount('verified') > 0)
      this.emit('verified', { id: info.id, userId: info.userId });
    return info;
  }

  /**
   * Revokes the token itself (a logout). Returns `false` when it was not live.
   *
   * @throws {RedisUnavailableError} when Redis does not answer within `timeout`
   */
  async revoke(token: string): Promise<boolean> {
    const parsed = parseToken(this.tokenPrefix, tokenArg(token));
    if (parsed === null) return false;

    const reply = await this.#call('revoke', 'mtRevoke', [
      this.#tokenKey(parsed.tag, parsed.id),
      ...this.#hashes(token),
    ]);
    if (reply[0] !== 1) return false;
    this.#emitRevoked(parsed.id, String(reply[1]), 'logout');
    return true;
  }

  /**
   * Revokes one of a user's tokens by its public id, as a device page does.
   * Returns `false` when the user holds no live token with that id.
   */
  async revokeById(userId: string | number, id: string): Promise<boolean> {
    const user = userIdArg(userId);
    if (typeof id !== 'string') throw new InvalidArgumentTypeError('id must be a string');
    if (!isTokenId(id)) return false;

    const tag = userTag(user);
    const revoked = await this.#call('revokeById', 'mtRevokeById', [
      this.#indexKey(tag, user),
      this.#tokenKey(tag, id),
      user,
    ]);
    if (Number(revoked) !== 1) return false;
    this.#emitRevoked(id, user, 'logout');
    return true;
  }

  /** Revokes every token of a user ("sign out everywhere"). Returns how many were live. */
  async revokeAll(userId: string | number): Promise<number> {
    const user = userIdArg(userId);
    return this.#revokeAllBut(user, '', 'logout-all');
  }

  /** Revokes every token of a user but the one with `keepId`. Returns how many were live. */
  async revokeOthers(userId: string | number, keepId: string): Promise<number> {
    const user = userIdArg(userId);
    if (typeof keepId !== 'string') throw new InvalidArgumentTypeError('keepId must be a string');
    if (!isTokenId(keepId)) throw new InvalidArgumentRangeError('keepId is not a token id');
    return this.#revokeAllBut(user, keepId, 'logout-others');
  }

  /** The user's live tokens, newest first. Holds no secret and no expired or revoked token. */
  async list(userId: string | number): Promise<TokenInfo[]> {
    const user = userIdArg(userId);
    const reply = await this.#call('list', 'mtList', [
      this.#indexKey(userTag(user), user),
      user,
      this.#lifetimeMs(),
    ]);
    const now = reply[0];
    const tokens: TokenInfo[] = [];
    for (let i = 1; i + 9 <= reply.length; i += 9) {
      tokens.push(tokenInfo(String(reply[i]), user, reply.slice(i + 1, i + 9), now));
    }
    return tokens.sort(
      (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : 1),
    );
  }

  /** Stops the store. Closes the Redis connection when the store opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  async #revokeAllBut(user: string, keep: string, reason: RevokeReason): Promise<number> {
    const ids = await this.#call('revokeAll', 'mtRevokeAll', [
      this.#indexKey(userTag(user), user),
      user,
      keep,
    ]);
    for (const id of ids) this.#emitRevoked(String(id), user, reason);
    return ids.length;
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
  #hashes(token: string): Buffer[] {
    if (this.#secrets === undefined) return [hashToken(token)];
    return this.#secrets.map((secret) => hashToken(token, secret));
  }

  /** Runs one script within `timeout`; any failure of Redis becomes `RedisUnavailableError`. */
  async #call(
    operation: string,
    command: keyof typeof COMMANDS,
    args: Array<string | number | Buffer>,
  ): Promise<Reply> {
    if (this.#closed) throw new StoreClosedError();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        debug('%s: no answer within %d ms', operation, this.timeout);
        reject(
          new RedisUnavailableError(`Redis did not answer ${operation} within ${this.timeout} ms`),
        );
      }, this.timeout);
    });
    const call = this.#commands[COMMAND_NAMES[command]](...args).then(
      (reply) => {
        if (!Array.isArray(reply) && typeof reply !== 'number') {
          throw new UnexpectedReplyError(operation);
        }
        return (Array.isArray(reply) ? reply : [reply]) as Reply;
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

  #emitRevoked(id: string, userId: string, reason: RevokeReason): void {
    debug('revoked %s of user %s (%s)', id, userId, reason);
    this.emit('revoked', { id, userId, reason });
  }

  #emitRejected(reason: 'malformed' | 'unknown' | 'lifetime', id: string | null): void {
    if (this.listenerCount('rejected') > 0) this.emit('rejected', { reason, id });
  }
}

function connect(url: string): Redis {
  if (!/^rediss?:\/\//.test(url)) {
    throw new InvalidArgumentRangeError('redis must be a redis:// or rediss:// URL');
  }
  const client = new Redis(url, {
    // Fail fast and reconnect soon: the store bounds every call with its own timeout.
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 50, 500),
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

function flag(value: boolean): string {
  return value ? '1' : '0';
}

function expiryDate(now: number | string, expiresIn: number | string): Date | null {
  const ms = Number(expiresIn);
  return ms < 0 ? null : new Date(Number(now) + ms);
}

/** Builds a `TokenInfo` from a script's fields: device, created, used, ttl, meta, scope, ip, ua. */
function tokenInfo(id: string, userId: string, fields: Reply, now: number | string): TokenInfo {
  const [device, created, used, expiresIn, meta, scope, ip, ua] = fields.map(String);
  return {
    id,
    userId,
    device: device === '' ? null : device,
    createdAt: new Date(Number(created)),
    lastUsedAt: new Date(Number(used)),
    expiresAt: expiryDate(now, expiresIn),
    meta: meta === '' ? {} : (JSON.parse(meta) as Record<string, string>),
    scope: scope === '' ? [] : scope.split(' '),
    lastIp: ip === '' ? null : ip,
    lastUserAgent: ua === '' ? null : ua,
  };
}
