import { type BearerRequest, BearerStrategy, type VerifyDone } from './bearer-base.js';
import { bearerChallenge } from './challenge.js';
import { InvalidArgumentRangeError, InvalidArgumentTypeError } from './errors.js';
import { TokenStore, type TokenStoreOptions } from './token-store.js';
import type { TokenInfo } from './types.js';
import { booleanArg, optionsArg } from './validate.js';

/** Where a bearer token may be read from (RFC 6750 section 2). */
export type TokenSource = 'header' | 'body' | 'query';

const ALL_SOURCES: readonly TokenSource[] = ['header', 'body', 'query'];

export type FindUser = (userId: string, info: TokenInfo) => unknown;
export type FindUserWithRequest = (req: BearerRequest, userId: string, info: TokenInfo) => unknown;

export interface RedisMultiTokenStrategyOptions extends TokenStoreOptions {
  /** The store to verify against. Default: a `TokenStore` built from the other options. */
  store?: TokenStore;
  /**
   * Turns a token's user id into the user for `req.user`; may be async. Return `null` or
   * `false` to reject the token (a deleted or locked account).
   * @default (userId) => ({ id: userId })
   */
  findUser?: FindUser | FindUserWithRequest;
  /**
   * Passes the request to `findUser` as its first argument.
   * @default false
   */
  passReqToCallback?: boolean;
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
] as const;

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
 * app.get('/me', passport.authenticate('bearer', { session: false }), (req, res) => res.json(req.user))
 * app.post('/logout', passport.authenticate('bearer', { session: false }), async (req, res) => {
 *   await strategy.store.revokeById(req.authInfo.userId, req.authInfo.id)
 *   res.sendStatus(204)
 * })
 * ```
 */
export class RedisMultiTokenStrategy extends BearerStrategy {
  /** The token store, for login and logout handlers to issue and revoke with. */
  readonly store: TokenStore;

  readonly #findUser: FindUser | FindUserWithRequest;
  readonly #passReq: boolean;
  readonly #realm: string;
  readonly #scope: string[];
  readonly #sources: ReadonlySet<TokenSource>;
  readonly #trackRequestMeta: boolean;

  constructor(options?: RedisMultiTokenStrategyOptions) {
    const opts = optionsArg('RedisMultiTokenStrategy options', options);
    const realm = stringOption('realm', opts.realm, 'Users');
    const scope = scopeOption(opts.scope);
    let verify: (req: BearerRequest, token: string, done: VerifyDone) => void = () => {};
    super({ realm, scope, passReqToCallback: true }, (req, token, done) =>
      verify(req, token, done),
    );
    verify = (req, token, done) => this.#verify(req, token, done);

    this.name = stringOption('name', opts.name, 'bearer');
    this.#realm = realm;
    this.#scope = scope;
    this.#passReq = booleanArg('passReqToCallback', opts.passReqToCallback, false);
    this.#trackRequestMeta = booleanArg('trackRequestMeta', opts.trackRequestMeta, false);
    this.#sources = sourcesOption(opts.tokenSources);
    this.#findUser = findUserOption(opts.findUser);
    this.store = storeOption(opts);
  }

  /** Reads the token as RFC 6750 section 2 allows, then verifies it against the store. */
  override authenticate(req: BearerRequest): void {
    // Passport calls this on `Object.create(strategy)`, which lacks the private fields.
    let self: object = this;
    while (!(#sources in self)) self = Object.getPrototypeOf(self);
    const strategy = self as RedisMultiTokenStrategy;
    const found = strategy.#extract(req);
    if (found === 'missing') {
      this.fail(strategy.#challenge(), 401);
    } else if (found === 'invalid_request') {
      this.fail(strategy.#challenge('invalid_request'), 400);
    } else {
      strategy.#verify(req, found.token, (err, user, info) => {
        if (err) this.error(err);
        else if (!user) this.fail(strategy.#challenge('invalid_token'), 401);
        else this.success(user, info);
      });
    }
  }

  #verify(req: BearerRequest, token: string, done: VerifyDone): void {
    const context = this.#trackRequestMeta ? requestMeta(req) : undefined;
    this.store
      .verify(token, context)
      .then(async (info) => {
        if (info === null) return { user: false, info };
        const user = this.#passReq
          ? await (this.#findUser as FindUserWithRequest)(req, info.userId, info)
          : await (this.#findUser as FindUser)(info.userId, info);
        return { user, info };
      })
      .then(
        ({ user, info }) => done(null, user ?? false, info),
        (err: unknown) => done(err),
      );
  }

  #extract(req: BearerRequest): Extracted {
    const found: string[] = [];
    if (this.#sources.has('header') && req.headers.authorization !== undefined) {
      const header = req.headers.authorization;
      if (typeof header !== 'string' || repeatsAuthorization(req)) return 'invalid_request';
      const parts = header.split(' ');
      if (parts.length !== 2) return 'invalid_request';
      if (/^Bearer$/i.test(parts[0])) found.push(parts[1]);
    }
    for (const source of ['body', 'query'] as const) {
      if (!this.#sources.has(source)) continue;
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

  #challenge(error?: 'invalid_request' | 'invalid_token'): string {
    return bearerChallenge(this.#realm, this.#scope, error);
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

function findUserOption(value: unknown): FindUser | FindUserWithRequest {
  if (value === undefined) return (userId: string) => ({ id: userId });
  if (typeof value !== 'function')
    throw new InvalidArgumentTypeError('findUser must be a function');
  return value as FindUser;
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
