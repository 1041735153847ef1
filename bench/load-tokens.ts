import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { formatToken, newTokenId, storedHash, userTag } from '../lib/token-format.js';

/*
 * Writes tokens straight into the store's key layout (see lib/scripts.ts) with pipelines,
 * far faster than one `issue` script per token. Only the scale rows use it, to fill Redis
 * with a million tokens or give one user ten thousand; they then check a sample of the
 * tokens with `TokenStore.verify`, so a layout this file no longer matches fails loudly.
 */

const TTL_MS = 3_600_000;
const PIPELINE_TOKENS = 5000;

export interface LoadedUser {
  userId: string;
  /** Up to `keep` of the user's tokens, for verifying. */
  tokens: string[];
}

/** Gives each of `users` `perUser` tokens under `keyPrefix`; keeps `keep` tokens per user. */
export async function loadTokens(
  redis: Redis,
  keyPrefix: string,
  users: string[],
  perUser: number,
  keep = 1,
): Promise<LoadedUser[]> {
  const loaded: LoadedUser[] = [];
  let pipeline = redis.pipeline();
  let queued = 0;
  const now = Date.now();
  for (const userId of users) {
    const tag = userTag(userId);
    const base = `${keyPrefix}{${tag}}:`;
    const index = `${base}u:${userId}`;
    const kept: string[] = [];
    for (let i = 0; i < perUser; i++) {
      const id = newTokenId();
      const token = formatToken('mt_', tag, id);
      if (kept.length < keep) kept.push(token);
      const record = `${base}t:${id}`;
      pipeline.hset(record, {
        u: userId,
        h: storedHash(token),
        c: now,
        d: randomBytes(8).toString('hex'),
        m: `{"label":"Pixel ${i % 10}"}`,
        e: now + TTL_MS,
      });
      pipeline.pexpire(record, TTL_MS);
      pipeline.hset(index, id, '');
      if (++queued >= PIPELINE_TOKENS) {
        await pipeline.exec();
        pipeline = redis.pipeline();
        queued = 0;
      }
    }
    pipeline.pexpire(index, TTL_MS);
    loaded.push({ userId, tokens: kept });
  }
  await pipeline.exec();
  return loaded;
}
