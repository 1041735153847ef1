import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TokenStore } from '../lib/index.js';
import type { BenchContext } from './context.js';
import { inBatches, median } from './measure.js';
import type { Row } from './report.js';

const CHILD = fileURLToPath(new URL('./revocation-child.ts', import.meta.url));
const PREFIX = 'bench5:';

type Message = { type: 'ready' | 'cached' | 'error' } | { type: 'gone'; at: number };

/**
 * Row 5: how long after `revoke()` resolves in this process a `verify()` in another process,
 * which had the token cached, returns null.
 */
export async function revocation(ctx: BenchContext): Promise<Row[]> {
  const count = ctx.quick ? 200 : 1000;
  const store = new TokenStore({ redis: ctx.url, keyPrefix: PREFIX });
  const child = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_REDIS_URL: ctx.url, BENCH_PREFIX: PREFIX },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (type: Message['type']) =>
    new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} from the child`)), 10_000);
      const onMessage = (message: Message) => {
        if (message.type === 'error') reject(new Error('child: token not cached'));
        if (message.type !== type) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
    });
  try {
    await next('ready');
    const tokens: string[] = [];
    await inBatches(
      Array.from({ length: count }, (_, i) => `user-${i}`),
      50,
      async (userId) => {
        tokens.push((await store.issue(userId)).token);
      },
    );
    const latencies: number[] = [];
    let timedOut = 0;
    for (const token of tokens) {
      const cached = next('cached');
      child.send({ type: 'watch', token });
      await cached;
      const gone = next('gone');
      await store.revoke(token);
      const revokedAt = performance.timeOrigin + performance.now();
      const message = (await gone) as { at: number };
      if (Number.isNaN(message.at)) timedOut++;
      // The other process may see the invalidation before this one sees its own reply.
      else latencies.push(Math.max(0, message.at - revokedAt));
    }
    const max = timedOut > 0 ? Number.POSITIVE_INFINITY : Math.max(...latencies);
    return [
      {
        section: '5',
        name: `revocation reaches a cached verify in another process, median of ${count}`,
        value: median(latencies),
        unit: 'ms',
      },
      {
        section: '5',
        name: `same, max of ${count}`,
        value: max,
        unit: 'ms',
        note: timedOut > 0 ? `${timedOut} not seen within 2 s` : undefined,
        target: '<= 50 ms',
        met: max <= 50,
      },
    ];
  } finally {
    child.send({ type: 'stop' });
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(undefined);
      }, 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    await store.close();
  }
}
