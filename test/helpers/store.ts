import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TokenStore, type TokenStoreOptions } from '../../lib/index.js';
import { waitFor } from './redis-server.js';

/** The URL of the redis-server the test run started (see hooks.ts). */
export function testRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (url === undefined) throw new Error('REDIS_URL is not set: run the tests through mocha');
  return url;
}

/** A client of the test server, for looking at what the store wrote. */
export function rawClient(url = testRedisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** A fresh key prefix, so tests that share the server never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}:`;
}

const opened: Array<{ close(): Promise<unknown> }> = [];

/** A store on the test server under a fresh prefix; closed after the test. */
export function testStore(options: TokenStoreOptions = {}): TokenStore {
  const store = new TokenStore({ redis: testRedisUrl(), keyPrefix: uniquePrefix(), ...options });
  opened.push(store);
  return store;
}

/** Closes what `testStore` and `track` opened. Call it from `afterEach`. */
export async function closeAll(): Promise<void> {
  const open = opened.splice(0);
  await Promise.all(open.map((item) => item.close()));
}

export function track<T extends { close(): Promise<unknown> }>(item: T): T {
  opened.push(item);
  return item;
}

/** Every key under a prefix, read with SCAN so the test does not block the server. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

/** A store with the local verify cache on, once its invalidation link is up. */
export async function cachedTestStore(options: TokenStoreOptions = {}): Promise<TokenStore> {
  const store = testStore({ cache: true, ...options });
  await waitFor('the cache to track invalidations', () => store.cacheStats()?.connected === true);
  return store;
}

/** Disconnects an ioredis client in `closeAll`, after the stores that use it. */
export function trackClient<T extends { disconnect(): void }>(client: T): T {
  opened.push({ close: async () => client.disconnect() });
  return client;
}
