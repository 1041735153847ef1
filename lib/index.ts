export type { BearerRequest } from './bearer-base.js';
export {
  InvalidArgumentRangeError,
  InvalidArgumentTypeError,
  NotDurableError,
  RedisUnavailableError,
  StoreClosedError,
  TokenLimitError,
  TokenStoreError,
  type TokenStoreErrorCode,
  UnexpectedReplyError,
} from './errors.js';
export { type RequireScopeOptions, requireScope, type ScopeMiddleware } from './require-scope.js';
export {
  type FindUser,
  type FindUserWithRequest,
  RedisMultiTokenStrategy,
  type RedisMultiTokenStrategyOptions,
  type RedisMultiTokenStrategyOptionsWithRequest,
  Strategy,
  type StrategyOwnOptions,
  type TokenSource,
} from './strategy.js';
export { TokenStore, type TokenStoreOptions } from './token-store.js';
export type {
  IssuedToken,
  IssueOptions,
  RedisConnection,
  RejectReason,
  RevokeReason,
  TokenInfo,
  TokenStoreEvents,
  VerifyContext,
} from './types.js';
export type { VerifyCacheOptions, VerifyCacheStats } from './verify-cache.js';
