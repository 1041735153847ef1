/**
 * Every error this package throws carries a stable `code`, listed here.
 * Messages may change between versions; codes do not.
 */
export type TokenStoreErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_REDIS_UNAVAILABLE'
  | 'ERR_TOKEN_LIMIT'
  | 'ERR_NOT_DURABLE'
  | 'ERR_STORE_CLOSED'
  | 'ERR_UNEXPECTED_REPLY';

const brand = Symbol.for('passport-redis-multitokens.error');

interface Branded {
  [brand]?: true;
}

/**
 * Base class of the errors the package throws. Argument errors are also `TypeError` or
 * `RangeError`, so `instanceof TokenStoreError` is answered by a brand rather than the
 * prototype chain.
 *
 * @example
 * Tell a Redis outage from a bug in a login handler:
 * ```ts
 * try { await store.issue(user.id) } catch (err) {
 *   if (err instanceof TokenStoreError && err.code === 'ERR_REDIS_UNAVAILABLE') retryLater()
 * }
 * ```
 */
export class TokenStoreError extends Error {
  declare readonly code: TokenStoreErrorCode;

  constructor(code: TokenStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    brandError(this, code);
  }

  // Subclasses keep the ordinary prototype check; only the base answers by brand.
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: as above
    if (this !== TokenStoreError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Branded)[brand] === true;
  }
}

function brandError(error: Error, code: TokenStoreErrorCode): void {
  Object.defineProperty(error, brand, { value: true });
  Object.defineProperty(error, 'code', { value: code, enumerable: true });
  error.name = error.constructor.name;
}

/** A value of the wrong type was passed: a number where a string belongs, a missing token. */
export class InvalidArgumentTypeError extends TypeError {
  declare readonly code: 'ERR_INVALID_ARGUMENT';

  constructor(message: string) {
    super(message);
    brandError(this, 'ERR_INVALID_ARGUMENT');
  }
}

/** A value of the right type but out of bounds: an empty user id, a `ttl` of 0, a huge `meta`. */
export class InvalidArgumentRangeError extends RangeError {
  declare readonly code: 'ERR_INVALID_ARGUMENT';

  constructor(message: string) {
    super(message);
    brandError(this, 'ERR_INVALID_ARGUMENT');
  }
}

/**
 * Redis did not answer in time, or answered with an error. Requests that hit it during
 * authentication get HTTP 503 (`status`), never a 401 and never a success.
 */
export class RedisUnavailableError extends TokenStoreError {
  readonly status = 503;
  readonly expose = false;

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_REDIS_UNAVAILABLE', message, options);
  }
}

/** `issue` would exceed `maxTokensPerUser` and `onLimit` is `'reject'`. */
export class TokenLimitError extends TokenStoreError {
  constructor(readonly limit: number) {
    super('ERR_TOKEN_LIMIT', `the user already holds ${limit} tokens (maxTokensPerUser)`);
  }
}

/** A `durable` write did not reach the asked number of replicas before the timeout. */
export class NotDurableError extends TokenStoreError {
  constructor(
    readonly wanted: number,
    readonly reached: number,
  ) {
    super('ERR_NOT_DURABLE', `the write reached ${reached} of ${wanted} replicas (durable)`);
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends TokenStoreError {
  constructor() {
    super('ERR_STORE_CLOSED', 'the token store is closed');
  }
}

/** Redis answered with something the store's scripts never return: a bug or a foreign key. */
export class UnexpectedReplyError extends TokenStoreError {
  constructor(what: string) {
    super('ERR_UNEXPECTED_REPLY', `unexpected reply from Redis: ${what}`);
  }
}
