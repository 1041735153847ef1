/*
 * The second process of the revocation-latency row: it holds tokens in its local cache and
 * reports, over IPC, the moment a verify first returns null after another process revoked.
 */
import { TokenStore } from '../lib/index.js';

const POLL_LIMIT_MS = 2000;
const store = new TokenStore({
  redis: process.env.BENCH_REDIS_URL ?? '',
  keyPrefix: process.env.BENCH_PREFIX ?? 'bench5:',
  cache: true,
});

const wallClock = () => performance.timeOrigin + performance.now();
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

async function watch(token: string): Promise<void> {
  const before = store.cacheStats()?.hits ?? 0;
  await store.verify(token);
  await store.verify(token);
  if ((store.cacheStats()?.hits ?? 0) <= before) {
    process.send?.({ type: 'error', message: 'token was not served from the cache' });
    return;
  }
  process.send?.({ type: 'cached' });
  const deadline = performance.now() + POLL_LIMIT_MS;
  // Each poll yields to the event loop, where the invalidation message is read.
  while (performance.now() < deadline) {
    if ((await store.verify(token)) === null) {
      process.send?.({ type: 'gone', at: wallClock() });
      return;
    }
    await nextTurn();
  }
  process.send?.({ type: 'gone', at: Number.NaN });
}

process.on('message', (message: { type: string; token?: string }) => {
  if (message.type === 'watch' && message.token) void watch(message.token);
  if (message.type === 'stop') void store.close().then(() => process.exit(0));
});

const ready = setInterval(() => {
  if (store.cacheStats()?.connected) {
    clearInterval(ready);
    process.send?.({ type: 'ready' });
  }
}, 10);
