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
  Strategy,
  type TokenSource,
} from './strategy.js';
export { TokenStore, type TokenStoreOptions } from './token-store.js';
export type {
  Durability,
  IssuedToken,
  IssueOptions,
  RedisConnection,
  RejectReason,
  RevokeReason,
  TokenInfo,
  TokenStoreEvents,
  VerifyContext,
  WriteOptions,
} from './types.js';
