export type { BearerRequest, VerifyDone } from './bearer-base.js';
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
export type { MigrateOptions } from './legacy-fallback.js';
export { type RequireScopeOptions, requireScope, type ScopeMiddleware } from './require-scope.js';
export {
  type FindUser,
  type FindUserWithRequest,
  type LegacyDone,
  type LegacyVerify,
  type LegacyVerifyWithRequest,
  RedisMultiTokenStrategy,
  type RedisMultiTokenStrategyOptions,
  type RedisMultiTokenStrategyOptionsWithRequest,
  Strategy,
  type StrategyOwnOptions,
  type TokenSource,
  type VerifyUser,
  type VerifyUserWithRequest,
} from './strategy.js';
export { TokenStore, type TokenStoreOptions } from './token-store.js';
export type {
  Durability,
  ImportedLookup,
  ImportOptions,
  ImportResult,
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
export type { DurableWrite } from './validate.js';
export type { VerifyCacheOptions, VerifyCacheStats } from './verify-cache.js';
