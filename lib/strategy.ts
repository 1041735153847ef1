import createDebug from 'debug';
import { type BearerRequest, BearerStrategy, type VerifyDone } from './bearer-base.js';
import { bearerChallenge } from './challenge.js';
import { InvalidArgumentRangeError, InvalidArgumentTypeError } from './errors.js';
import {
  type LegacyFallback,
  type LegacyOutcome,
  legacyFallbackOption,
  type MigrateOptions,
} from './legacy-fallback.js';
import { TokenStore, type TokenStoreOptions } from './token-store.js';
import type { TokenInfo, VerifyContext } from './types.js';
import { booleanArg, optionsArg } from './validate.js';

const debug = createDebug('passport-redis-multitokens:strategy');

/** Where a bearer token may be read from (RFC 6750 section 2). */
export type TokenSource = 'header' | 'body' | 'query';

const ALL_SOURCES: readonly TokenSource[] = ['header', 'body', 'query'];

export type FindUser = (userId: string, info: TokenInfo) => unknown;
export type FindUserWithRequest = (req: BearerRequest, userId: string, info: TokenInfo) => unknown;

/** Passport's callback style of `findUser`, as `@nestjs/passport` passes it (see `validate`). */
export type VerifyUser = (userId: string, info: TokenInfo, done: VerifyDone) => void;
export type VerifyUserWithRequest = (
  req: BearerRequest,
  userId: string,
  info: TokenInfo,
  done: VerifyDone,
) => void;

export type LegacyDone = (error: unknown, user?: unknown, info?: unknown) => void;
/**
 * The verify function of an older bearer setup: passport-http-bearer's callback form
 * `(token, done)`, told apart by declaring `done`, or an async form returning the user.
 */
export type LegacyVerify =
  | ((token: string, done: LegacyDone) => void)
  | ((token: string) => unknown);
export type LegacyVerifyWithRequest =
  | ((req: BearerRequest, token: string, done: LegacyDone) => void)
  | ((req: BearerRequest, token: string) => unknown);

/** Options shared by both forms, and those of {@link TokenStore} when it builds its store. */
export interface StrategyOwnOptions extends TokenStoreOptions {
  /** The store to verify against. Default: a `TokenStore` built from the other options. */
  store?: TokenStore;
  /**
   * The realm of the `WWW-Authenticate` challenge.
   * @default 'Users'
   */
  realm?: string;
  /** Scope named in the challenge, as in passport-http-bearer. */
  scope?: string | string[];
  /**
   * The strategy name for `passport.authenticate(name)`.
   * @default 'bearer'
   */
  name?: string;
  /**
   * Where tokens are read from. RFC 6750 section 5.3 advises against the query string;
   * `['header']` accepts the Authorization header alone.
   * @default ['header', 'body', 'query']
   */
  tokenSources?: TokenSource[];
  /**
   * Records the client IP and user agent of each use with `lastUsedAt` (within
   * `touchInterval`), for a device page.
   * @default false
   */
  trackRequestMeta?: boolean;
  /**
   * The verify function of the app's previous bearer setup, kept as a fallback while clients
   * move over: a token that is not of this store's format and that Redis does not know goes
   * to it, and a user it returns is accepted. A token imported and revoked since never
   * reaches it. Takes the request first with `passReqToCallback`.
   * @default undefined (no fallback)
   */
  legacyVerify?: LegacyVerify | LegacyVerifyWithRequest;
  /**
   * Imports each token `legacyVerify` accepts into Redis on its first use, for the user
   * `legacyUserId` names; from then on it verifies from Redis alone. `true` gives it the
   * store's `ttl`; `{ ttl }` a TTL of its own in seconds (`null` never expires).
   * @default false
   */
  migrate?: boolean | MigrateOptions;
  /**
   * Reads the user id to import a legacy token under from the user `legacyVerify` returned.
   * @default (user) => user.id
   */
  legacyUserId?: (user: unknown) => string | number;
}

/** Options of {@link RedisMultiTokenStrategy}, with `findUser(userId, info)`. */
export interface RedisMultiTokenStrategyOptions extends StrategyOwnOptions {
  /**
   * Turns a token's user id into the user for `req.user`; may be async. Return `null` or
   * `false` to reject the token (a deleted or locked account).
   * @default (userId) => ({ id: userId })
   */
  findUser?: FindUser;
  /**
   * Passes the request to `findUser` (and `legacyVerify`) as its first argument.
   * @default false
   */
  passReqToCallback?: false;
  legacyVerify?: LegacyVerify;
}

/** Options of {@link RedisMultiTokenStrategy}, with `findUser(req, userId, info)`. */
export interface RedisMultiTokenStrategyOptionsWithRequest extends StrategyOwnOptions {
  findUser?: FindUserWithRequest;
  passReqToCallback: true;
  legacyVerify?: LegacyVerifyWithRequest;
}

const STORE_OPTION_KEYS = [
  'redis',
  'keyPrefix',
  'ttl',
  'resetTtlOnLogin',
  'overwriteNullTtl',
  'slidingTtl',
  'touchInterval',
  'maxLifetime',
  'maxTokensPerUser',
  'onLimit',
  'secret',
  'tokenPrefix',
  'timeout',
  'timeUnit',
  'importedTokens',
  'cache',
  'durable',
] as const;

interface StrategySettings {
  realm: string;
  scope: string[];
  passReq: boolean;
  trackRequestMeta: boolean;
  sources: ReadonlySet<TokenSource>;
  findUser: FindUser | FindUserWithRequest;
  legacy: LegacyFallback | undefined;
}

type Extracted = { token: string } | 'missing' | 'invalid_request';

/**
 * A Passport strategy for the bearer tokens of a {@link TokenStore}: a drop-in for
 * `passport-http-bearer` (it extends its Strategy and answers with the same challenges)
 * whose verify step looks the token up in Redis.
 *
 * A valid token sets `req.user` and sets `req.authInfo` to its {@link TokenInfo}. Missing,
 * malformed, unknown, expired and revoked tokens all fail with 401 and a challenge that
 * does not say which; when Redis cannot answer, the request errors with status 503. A
 * malformed request (an Authorization header that is not `<scheme> <token>` or is repeated,
 * or a token in more than one place) fails with 400.
 *
 * @example
 * Protect an Express route and let login and logout use the same store:
 * ```ts
 * const strategy = new RedisMultiTokenStrategy({ findUser: (id) => users.get(id) })
 * passport.use(strategy)
 * const auth = passport.authenticate('bearer', { session: false })
 * app.get('/me', auth, (req, res) => res.json(req.user))
 * app.post('/logout', auth, async (req, res) => {
 *   await strategy.store.revokeById(req.authInfo.userId, req.authInfo.id)
 *   res.sendStatus(204)
 * })
 * ```
 */
export class RedisMultiTokenStrategy extends BearerStrategy {
  /** The token store, for login and logout handlers to issue and revoke with. */
  readonly store: TokenStore;

  // Plain properties, not #private fields: Passport and @fastify/passport call
  // authenticate() on Object.create(strategy), where #private fields are out of reach.
  private readonly settings: StrategySettings;

  /**
   * Takes the options and, in Passport's way, an optional verify callback in place of
   * `findUser`: `(userId, info, done)`. `@nestjs/passport` passes one that calls `validate`.
   */
  constructor(options?: RedisMultiTokenStrategyOptions, verifyUser?: VerifyUser);
  constructor(
    options: RedisMultiTokenStrategyOptionsWithRequest,
    verifyUser?: VerifyUserWithRequest,
  );
  constructor(verifyUser: VerifyUser);
  constructor(
    options?:
      | RedisMultiTokenStrategyOptions
      | RedisMultiTokenStrategyOptionsWithRequest
      | VerifyUser
      | VerifyUserWithRequest,
    verifyUser?: VerifyUser | VerifyUserWithRequest,
  ) {
    const [given, callback] = typeof options === 'function' ? [{}, options] : [options, verifyUser];
    const opts = optionsArg('RedisMultiTokenStrategy options', given);
    const realm = stringOption('realm', opts.realm, 'Users');
    const scope = scopeOption(opts.scope);
    let verify: (req: BearerRequest, token: string, done: VerifyDone) => void = () => {};
    super({ realm, scope, passReqToCallback: true }, (req, token, done) =>
      verify(req, token, done),
    );
    verify = (req, token, done) => this.verifyToken(req, token, done);

    this.name = stringOption('name', opts.name, 'bearer');
    const passReq = booleanArg('passReqToCallback', opts.passReqToCallback, false);
    const trackRequestMeta = booleanArg('trackRequestMeta', opts.trackRequestMeta, false);
    const sources = sourcesOption(opts.tokenSources);
    const findUser = findUserOption(opts.findUser, callback);
    this.store = storeOption(opts);
    const legacy = legacyFallbackOption(opts, this.store, passReq);
    this.settings = { realm, scope, passReq, trackRequestMeta, sources, findUser, legacy };
  }

  /** Requests accepted through `legacyVerify` since the strategy was made. */
  get legacyCount(): number {
    return this.settings.legacy?.accepted ?? 0;
  }

  /** Of those, the ones whose token `migrate` brought into Redis. */
  get migratedCount(): number {
    return this.settings.legacy?.migrated ?? 0;
  }

  /** Reads the token as RFC 6750 section 2 allows, then verifies it against the store. */
  override authenticate(req: BearerRequest): void {
    const found = this.extract(req);
    if (found === 'missing') {
      this.fail(this.challenge(), 401);
    } else if (found === 'invalid_request') {
      // Passport sends WWW-Authenticate with 401 answers only; a 400 goes out without it.
      this.fail(this.challenge('invalid_request'), 400);
    } else {
      this.verifyToken(req, found.token, (err, user, info) => {
        if (err) this.error(err);
        else if (!user) this.fail(this.challenge('invalid_token'), 401);
        else this.success(user, info);
      });
    }
  }

  private verifyToken(req: BearerRequest, token: string, done: VerifyDone): void {
    const context = this.settings.trackRequestMeta ? requestMeta(req) : undefined;
    this.check(req, token, context).then(
      ({ user, info }) => done(null, user ?? false, info),
      (err: unknown) => done(err),
    );
  }

  private async check(
    req: BearerRequest,
    token: string,
    context: VerifyContext | undefined,
  ): Promise<LegacyOutcome> {
    const { legacy } = this.settings;
    if (legacy === undefined || token.startsWith(this.store.tokenPrefix)) {
      const info = await this.store.verify(token, context);
      return info === null ? { user: false } : this.withUser(req, info);
    }
    const found = this.store.importedTokens
      ? await this.store.lookupImported(token, context)
      : ({ status: 'unknown' } as const);
    if (found.status === 'live') return this.withUser(req, found.info);
    if (found.status === 'revoked') return { user: false };
    const outcome = await legacy.verify(req, token, context);
    if (outcome.user) debug('accepted a legacy token');
    return outcome;
  }

  private async withUser(req: BearerRequest, info: TokenInfo): Promise<LegacyOutcome> {
    const { findUser, passReq } = this.settings;
    const user = passReq
      ? await (findUser as FindUserWithRequest)(req, info.userId, info)
      : await (findUser as FindUser)(info.userId, info);
    return { user, info };
  }

  private extract(req: BearerRequest): Extracted {
    const { sources } = this.settings;
    const found: string[] = [];
    if (sources.has('header') && req.headers.authorization !== undefined) {
      const header = req.headers.authorization;
      if (typeof header !== 'string' || repeatsAuthorization(req)) return 'invalid_request';
      const parts = header.split(' ');
      if (parts.length !== 2) return 'invalid_request';
      if (/^Bearer$/i.test(parts[0])) found.push(parts[1]);
    }
    for (const source of ['body', 'query'] as const) {
      if (!sources.has(source)) continue;
      const value = (req[source] as { access_token?: unknown } | undefined)?.access_token;
      if (value === undefined || value === '') continue;
      if (typeof value !== 'string') return 'invalid_request';
      found.push(value);
    }
    // RFC 6750 section 2: a client must not use more than one method per request.
    if (found.length > 1) return 'invalid_request';
    if (found.length === 0 || found[0] === '') return 'missing';
    return { token: found[0] };
  }

  private challenge(error?: 'invalid_request' | 'invalid_token'): string {
    return bearerChallenge(this.settings.realm, this.settings.scope, error);
  }
}

/**
 * Node keeps the first of several Authorization headers and drops the rest, so a proxy that
 * reads the last one could disagree with the app about who is calling. Authorization is not
 * a list header (RFC 9110 section 5.3), so a repeated one makes the request malformed.
 */
function repeatsAuthorization(req: BearerRequest): boolean {
  const raw = req.rawHeaders;
  if (!Array.isArray(raw)) return false;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'authorization') seen++;
  }
  return seen > 1;
}

function requestMeta(req: BearerRequest): { ip?: string; userAgent?: string } {
  const agent = req.headers['user-agent'];
  return {
    ip: req.ip ?? req.socket?.remoteAddress,
    userAgent: typeof agent === 'string' ? agent : undefined,
  };
}

function stringOption(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new InvalidArgumentTypeError(`${name} must be a string`);
  if (value === '') throw new InvalidArgumentRangeError(`${name} must not be empty`);
  return value;
}

function scopeOption(value: unknown): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((entry) => typeof entry === 'string')) {
    throw new InvalidArgumentTypeError('scope must be a string or an array of strings');
  }
  return list as string[];
}

function sourcesOption(value: unknown): ReadonlySet<TokenSource> {
  if (value === undefined) return new Set(ALL_SOURCES);
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidArgumentTypeError('tokenSources must be a non-empty array');
  }
  for (const source of value) {
    if (!ALL_SOURCES.includes(source)) {
      throw new InvalidArgumentRangeError(
        `tokenSources entries must be one of ${ALL_SOURCES.join(', ')}`,
      );
    }
  }
  return new Set(value as TokenSource[]);
}

function findUserOption(value: unknown, callback: unknown): FindUser | FindUserWithRequest {
  if (callback !== undefined) {
    if (typeof callback !== 'function') {
      throw new InvalidArgumentTypeError('the verify callback must be a function');
    }
    if (value !== undefined) {
      throw new InvalidArgumentTypeError(
        'pass findUser or a verify callback, not both (with @nestjs/passport, use validate)',
      );
    }
    return fromCallback(callback as (...args: unknown[]) => void);
  }
  if (value === undefined) return (userId: string) => ({ id: userId });
  if (typeof value !== 'function')
    throw new InvalidArgumentTypeError('findUser must be a function');
  return value as FindUser;
}

/** Turns a verify callback ending in `done` into a `findUser` that returns a promise. */
function fromCallback(callback: (...args: unknown[]) => void): FindUserWithRequest {
  return (...args: unknown[]) =>
    new Promise((resolve, reject) => {
      callback(...args, (err: unknown, user?: unknown) => (err ? reject(err) : resolve(user)));
    });
}

function storeOption(opts: Record<string, unknown>): TokenStore {
  if (opts.store === undefined) return new TokenStore(pick(opts, STORE_OPTION_KEYS));
  if (!(opts.store instanceof TokenStore)) {
    throw new InvalidArgumentTypeError('store must be a TokenStore');
  }
  const clash = STORE_OPTION_KEYS.find((key) => opts[key] !== undefined);
  if (clash !== undefined) {
    throw new InvalidArgumentTypeError(`pass ${clash} to the TokenStore, not beside store`);
  }
  return opts.store;
}

function pick(source: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    keys.filter((key) => source[key] !== undefined).map((k) => [k, source[k]]),
  );
}

export { RedisMultiTokenStrategy as Strategy };
