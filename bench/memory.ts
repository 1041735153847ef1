import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TokenStore } from '../lib/index.js';
import { newTokenId, userTag } from '../lib/token-format.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import type { BenchContext } from './context.js';
import { inBatches } from './measure.js';
import { RedisSessions } from './redis-sessions.js';
import type { Row } from './report.js';

async function usedMemory(admin: Redis): Promise<number> {
  // Let Redis shrink client buffers left by the loading connection before reading.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
}

/** Row 3: Redis memory per token, every index included, from `INFO memory`. */
export async function memory(ctx: BenchContext): Promise<Row[]> {
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  const users = ctx.quick ? 2000 : 10_000;
  const tokens = users * 10;
  const userIds = Array.from({ length: tokens }, (_, i) => `user-${i % users}`);
  try {
    // The store, as an app uses it: issue with a device id and a short label.
    let before = await usedMemory(admin);
    const store = new TokenStore({ redis: server.url, keyPrefix: 'mt:' });
    const issued: string[] = [];
    await inBatches(userIds, 200, async (userId, i) => {
      const { token } = await store.issue(userId, {
        device: randomBytes(8).toString('hex'),
        meta: { label: `Pixel ${i % 10}` },
      });
      issued.push(token);
    });
    await store.close();
    let after = await usedMemory(admin);
    const perToken = (after - before) / tokens;

    // The same tokens once each has had its first use recorded (lastUsedAt written).
    before = after;
    const touching = new TokenStore({ redis: server.url, keyPrefix: 'mt:', touchInterval: 0 });
    await inBatches(issued, 200, (token) => touching.verify(token));
    await touching.close();
    after = await usedMemory(admin);
    const perUsed = perToken + (after - before) / tokens;

    // The floor: one string key (the user id, with a TTL) and one set member per token.
    await admin.flushall();
    before = await usedMemory(admin);
    const loader = new Redis(server.url);
    let pipeline = loader.pipeline();
    for (let i = 0; i < tokens; i++) {
      const userId = userIds[i];
      const base = `mt:{${userTag(userId)}}:`;
      const id = newTokenId();
      pipeline.set(`${base}t:${id}`, userId, 'PX', 3_600_000);
      pipeline.sadd(`${base}u:${userId}`, id);
      if (i % 5000 === 4999) {
        await pipeline.exec();
        pipeline = loader.pipeline();
      }
    }
    await pipeline.exec();
    await loader.quit();
    after = await usedMemory(admin);
    const floor = (after - before) / tokens;

    // redis-sessions, the closest peer, with the same users and label.
    await admin.flushall();
    before = await usedMemory(admin);
    const sessions = new RedisSessions({ port: server.port, host: '127.0.0.1', wipe: 0 });
    await inBatches(userIds, 200, (userId, i) =>
      sessions.create({
        app: 'bench',
        id: userId,
        ip: '127.0.0.1',
        ttl: 3600,
        d: { label: `Pixel ${i % 10}` },
      }),
    );
    await sessions.quit();
    after = await usedMemory(admin);
    const peer = (after - before) / tokens;

    const note = `${tokens.toLocaleString('en-US')} tokens, ${users.toLocaleString('en-US')} users`;
    return [
      {
        section: '3',
        name: 'Redis memory per token, as issued',
        value: perToken,
        unit: 'B',
        ratio: perToken / floor,
        versus: 'string+set',
        note,
        target: '<= 250 B',
        met: perToken <= 250,
      },
      {
        section: '3',
        name: 'Redis memory per token, after its first recorded use',
        value: perUsed,
        unit: 'B',
        ratio: perUsed / floor,
        versus: 'string+set',
        target: '<= 250 B',
        met: perUsed <= 250,
      },
      { section: '3', name: 'one string key + one set member (floor)', value: floor, unit: 'B' },
      {
        section: '3',
        name: 'redis-sessions, per session (peer)',
        value: peer,
        unit: 'B',
        ratio: peer / floor,
        versus: 'string+set',
      },
    ];
  } finally {
    admin.disconnect();
    await server.stop();
  }
}
