import { InvalidArgumentRangeError, InvalidArgumentTypeError } from './errors.js';
import { ID_LENGTH, TAG_LENGTH } from './token-format.js';

/*
 * Tokens of an older bearer setup, brought in by `TokenStore.import`. They carry no slot tag
 * and no id, so the store finds their record through a pointer key named after the token's
 * at-rest hash:
 *   <keyPrefix>{<4 chars of the hash>}:l:<rest of the hash>   value: tag + id + user id
 * The pointer sits in a slot of its own (derived from the hash), the record in its user's.
 */

export const MIN_LEGACY_TOKEN_LENGTH = 8;
export const MAX_LEGACY_TOKEN_LENGTH = 4096;
const POINTER_TAG_LENGTH = 4;
// Any character but whitespace and control characters.
const LEGACY_CHARACTERS = /^[^\s\p{Cc}]+$/u;

/** Where an imported token's record lives, as its pointer names it. */
export interface RecordRef {
  tag: string;
  id: string;
  userId: string;
}

/** True for a string that may be a legacy token: the check `verify` makes before a lookup. */
export function isLegacyShaped(token: string, tokenPrefix: string): boolean {
  return (
    token.length >= MIN_LEGACY_TOKEN_LENGTH &&
    token.length <= MAX_LEGACY_TOKEN_LENGTH &&
    !token.startsWith(tokenPrefix) &&
    LEGACY_CHARACTERS.test(token) &&
    token.isWellFormed()
  );
}

/** Checks a token given to `import`; the messages never quote the token. */
export function legacyTokenArg(value: unknown, tokenPrefix: string): string {
  if (typeof value !== 'string') throw new InvalidArgumentTypeError('token must be a string');
  if (value.length < MIN_LEGACY_TOKEN_LENGTH || value.length > MAX_LEGACY_TOKEN_LENGTH) {
    throw new InvalidArgumentRangeError(
      `token must be ${MIN_LEGACY_TOKEN_LENGTH} to ${MAX_LEGACY_TOKEN_LENGTH} characters long`,
    );
  }
  if (!LEGACY_CHARACTERS.test(value) || !value.isWellFormed()) {
    throw new InvalidArgumentRangeError(
      'token must not contain whitespace, control characters or lone surrogates',
    );
  }
  if (value.startsWith(tokenPrefix)) {
    throw new InvalidArgumentRangeError(
      `token must not start with tokenPrefix '${tokenPrefix}': such tokens are the store's own`,
    );
  }
  return value;
}

/** The pointer key of a legacy token, from one of its at-rest hashes (base64url text). */
export function pointerKey(keyPrefix: string, text: string): string {
  return `${keyPrefix}{${text.slice(0, POINTER_TAG_LENGTH)}}:l:${text.slice(POINTER_TAG_LENGTH)}`;
}

export function formatRecordRef(ref: RecordRef): string {
  return ref.tag + ref.id + ref.userId;
}

/** Reads a pointer's value; `null` for anything the store did not write. */
export function parseRecordRef(value: string | null): RecordRef | null {
  if (value === null || value.length <= TAG_LENGTH + ID_LENGTH) return null;
  return {
    tag: value.slice(0, TAG_LENGTH),
    id: value.slice(TAG_LENGTH, TAG_LENGTH + ID_LENGTH),
    userId: value.slice(TAG_LENGTH + ID_LENGTH),
  };
}

/**
 * How long a pointer lives: past its record by one more record lifetime (at least the
 * store's `ttl`), so that a login resetting the record's TTL does not strand it, and a
 * revoked token stays refused by the legacy fallback for that long. `-1` never expires.
 */
export function pointerTtl(recordTtlMs: number, storeTtlMs: number): number {
  if (recordTtlMs < 0) return -1;
  return recordTtlMs + Math.max(recordTtlMs, storeTtlMs);
}
