import { createHash, createHmac, hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/*
 * A token reads `mt_` + tag + id + secret + checksum, all in base62:
 *   tag      4 chars   derived from the user id; puts all of a user's keys in one cluster slot
 *   id      10 chars   random; the token's public id, also the name of its Redis key
 *   secret  43 chars   random; 43 * log2(62) = 256 bits from the OS CSPRNG
 *   checksum 6 chars   CRC-32 of everything before it, so typos and forgeries fail offline
 * Only a hash of the whole token is kept in Redis.
 */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62 = /^[0-9A-Za-z]+$/;

export const TAG_LENGTH = 4;
export const ID_LENGTH = 10;
export const SECRET_LENGTH = 43;
export const CHECKSUM_LENGTH = 6;
const BODY_LENGTH = TAG_LENGTH + ID_LENGTH + SECRET_LENGTH;

export const DEFAULT_TOKEN_PREFIX = 'mt_';
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}_$/;

/** The parts of a well-formed token that the store needs to find its record. */
export interface ParsedToken {
  tag: string;
  id: string;
}

/** Draws `length` base62 characters, each uniform, by rejection sampling random bytes. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length + 8)) {
      // 248 = 4 * 62: bytes above it would bias the first characters of the alphabet.
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function encodeBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

/** The slot tag of a user: the same user id always gives the same four characters. */
export function userTag(userId: string): string {
  const digest = createHash('sha256').update(userId, 'utf8').digest();
  return encodeBase62(digest.readUInt32BE(0) % 62 ** TAG_LENGTH, TAG_LENGTH);
}

export function isTokenPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

export function newTokenId(): string {
  return randomBase62(ID_LENGTH);
}

export function isTokenId(id: unknown): id is string {
  return typeof id === 'string' && id.length === ID_LENGTH && BASE62.test(id);
}

/** Builds a fresh token for the given tag and id. */
export function formatToken(prefix: string, tag: string, id: string): string {
  const head = prefix + tag + id + randomBase62(SECRET_LENGTH);
  return head + encodeBase62(crc32(head), CHECKSUM_LENGTH);
}

/**
 * Checks length, prefix, alphabet and checksum without touching Redis.
 * Returns `null` for anything that is not a token of this format.
 */
export function parseToken(prefix: string, token: string): ParsedToken | null {
  if (token.length !== prefix.length + BODY_LENGTH + CHECKSUM_LENGTH) return null;
  if (!token.startsWith(prefix)) return null;
  const body = token.slice(prefix.length);
  if (!BASE62.test(body)) return null;
  const head = token.slice(0, -CHECKSUM_LENGTH);
  if (encodeBase62(crc32(head), CHECKSUM_LENGTH) !== token.slice(-CHECKSUM_LENGTH)) return null;
  return { tag: body.slice(0, TAG_LENGTH), id: body.slice(TAG_LENGTH, TAG_LENGTH + ID_LENGTH) };
}

/**
 * The at-rest form of a token: SHA-256, or HMAC-SHA-256 under a server key when one is set.
 * The token's own 256 bits of entropy make a slow hash unnecessary.
 */
export function hashToken(token: string, secret?: Buffer): Buffer {
  if (secret === undefined) return hash('sha256', token, 'buffer');
  return createHmac('sha256', secret).update(token, 'utf8').digest();
}

/** Bytes of `hashToken` kept in Redis: 192 bits, written as 32 base64url characters. */
const STORED_HASH_BYTES = 24;

/**
 * The at-rest form of a token in Redis: the first 192 bits of `hashToken`, in base64url.
 * Text rather than bytes keeps every script argument a string, which ioredis sends in one
 * piece, for the same 32 bytes of Redis memory as the raw digest; a forger still needs
 * 2^192 guesses.
 */
export function storedHash(token: string, secret?: Buffer): string {
  return hashToken(token, secret).toString('base64url', 0, STORED_HASH_BYTES);
}
