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

export interface IssueOptions {
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
}
