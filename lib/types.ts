import type { Cluster, Redis } from 'ioredis';

/** An ioredis connection the store can run on: a single node, a Sentinel set-up or a Cluster. */
export type RedisConnection = Redis | Cluster;

/** What the store knows of a live token. Never holds the token or its hash. */
export interface TokenInfo {
  /** The token's public id: safe to show, log and pass to `revokeById`. */
  id: string;
  userId: string;
  /** The client-chosen device id given at issue, or `null`. */
  device: string | null;
  createdAt: Date;
  /** When the token was issued or last used, recorded at most once per `touchInterval`. */
  lastUsedAt: Date;
  /** `null` for a token that never expires. */
  expiresAt: Date | null;
  meta: Record<string, string>;
  scope: string[];
  /** Client address of the last recorded use, when the strategy records request metadata. */
  lastIp: string | null;
  /** User agent of the last recorded use, when the strategy records request metadata. */
  lastUserAgent: string | null;
}

/**
 * How many replicas must hold a write before the call resolves (Redis `WAIT`): a count of
 * replicas, or the count with the milliseconds to wait for them. `0` turns it off.
 */
export type Durability = number | { replicas: number; timeout?: number };

/** Options of the calls that change what is stored: `revoke`, `revokeById` and the others. */
export interface WriteOptions {
  /**
   * Resolve only once this many replicas hold the change, or reject with
   * `NotDurableError`. Default: the store's `durable`.
   */
  durable?: Durability;
}

export interface IssueOptions extends WriteOptions {
  /**
   * A stable id the client chose for itself (an installation id, a browser id). Issuing
   * again for the same user and device replaces that device's token.
   */
  device?: string;
  /**
   * Seconds (units of the store's `timeUnit`) this token lives; `null` never expires.
   * Default: the store's `ttl`.
   */
  ttl?: number | null;
  /** A small map of strings kept with the token, such as a label or the user agent. */
  meta?: Record<string, string>;
  /** RFC 6749 scope tokens granted to this token. */
  scope?: string[];
}

export interface IssuedToken {
  /** The bearer token. Hand it to the client once; the store keeps only its hash. */
  token: string;
  id: string;
  /** True when the user held no live token before this one. */
  first: boolean;
  expiresAt: Date | null;
}

/** What `import` keeps with a token brought in from an older setup. */
export interface ImportOptions {
  /** The device the token belongs to, when known. Replaces that device's token, as `issue`. */
  device?: string;
  /** Seconds the imported token lives; `null` never expires. Default: the store's `ttl`. */
  ttl?: number | null;
  /** A small map of strings kept with the token. */
  meta?: Record<string, string>;
  /** RFC 6749 scope tokens the token grants. */
  scope?: string[];
}

/**
 * What `import` did: `'imported'` wrote a record; `'exists'` found the user already holding
 * the token (nothing written); `'revoked'` found it imported before and revoked or expired
 * since, and leaves it so.
 */
export interface ImportResult {
  /** The public id of the token's record, for `list` and `revokeById`. */
  id: string;
  status: 'imported' | 'exists' | 'revoked';
  /** `null` for a token that never expires, and for a revoked one. */
  expiresAt: Date | null;
}

/**
 * What the store knows of a token that is not of its own format: `'live'` with its info,
 * `'revoked'` when it was imported and its record is gone (revoked, replaced or expired),
 * `'unknown'` when it was never imported.
 */
export type ImportedLookup =
  | { status: 'live'; info: TokenInfo }
  | { status: 'revoked' }
  | { status: 'unknown' };

/** Request details the strategy passes to `verify` when it records request metadata. */
export interface VerifyContext {
  ip?: string;
  userAgent?: string;
}

export type RevokeReason = 'logout' | 'logout-all' | 'logout-others' | 'limit' | 'replaced';

export type RejectReason = 'malformed' | 'unknown' | 'lifetime';

/** The events a `TokenStore` emits for audit logs. None of them carries a token. */
export interface TokenStoreEvents {
  issued: [event: { id: string; userId: string; device: string | null }];
  revoked: [event: { id: string; userId: string; reason: RevokeReason }];
  verified: [event: { id: string; userId: string }];
  /** `id` is the id the presented token claims, when it was well-formed enough to have one. */
  rejected: [event: { reason: RejectReason; id: string | null }];
  /** A token of an older setup was imported (`import`, or `migrate` on first use). */
  imported: [event: { id: string; userId: string; device: string | null }];
  /**
   * The strategy accepted a token through its `legacyVerify` fallback. `migrated` says the
   * token is in Redis now (`id` its record); `userId` is `null` when no id could be read.
   */
  legacy: [event: { userId: string | null; migrated: boolean; id: string | null }];
}
