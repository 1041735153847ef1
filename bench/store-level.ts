import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TokenStore } from '../lib/index.js';
import { waitFor } from '../test/helpers/redis-server.js';
import type { BenchContext } from './context.js';
import { interleave, median, rate } from './measure.js';
import { RedisSessions } from './redis-sessions.js';
import type { Row } from './report.js';

/** Calls of one command since the last `CONFIG RESETSTAT`. */
async function calls(admin: Redis, command: string): Promise<number> {
  const stats = await admin.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

/** Redis commands (and record writes) per verify, counted by Redis over `count` verifies. */
async function perVerify(admin: Redis, store: TokenStore, token: string, count: number) {
  await store.verify(token);
  await admin.config('RESETSTAT');
  let left = count;
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (left-- > 0) await store.verify(token);
    }),
  );
  // commandstats counts the commands inside scripts too; each touch script reads the record
  // once, so the reads the client sent itself are the reads less the scripts.
  const scripts = (await calls(admin, 'evalsha')) + (await calls(admin, 'eval'));
  const reads = (await calls(admin, 'hmget')) - scripts;
  return { commands: (reads + scripts) / count, writes: (await calls(admin, 'hset')) / count };
}

/** Row 1: the store's calls against the bare ioredis commands they build on. */
export async function storeLevel(ctx: BenchContext): Promise<Row[]> {
  const redis = new Redis(ctx.url);
  const admin = new Redis(ctx.url);
  const store = new TokenStore({ redis, keyPrefix: 'bench1:' });
  const sliding = new TokenStore({ redis, keyPrefix: 'bench1:', slidingTtl: true });
  const everyTime = new TokenStore({
    redis,
    keyPrefix: 'bench1:',
    slidingTtl: true,
    touchInterval: 0,
  });
  const cached = new TokenStore({ redis: ctx.url, keyPrefix: 'bench1:', cache: true });
  const sessions = new RedisSessions({ port: ctx.port, host: '127.0.0.1', wipe: 0 });
  try {
    await waitFor('the cache link', () => cached.cacheStats()?.connected === true);
    const { token } = await store.issue('user-hot', {
      device: 'a1b2c3d4e5f6a7b8',
      meta: { label: 'Pixel 7' },
    });
    await redis.set('bench1:plain', 'user-hot');
    const session = await sessions.create({
      app: 'bench',
      id: 'user-hot',
      ip: '127.0.0.1',
      ttl: 3600,
    });
    const value = randomBytes(32).toString('base64url');
    let n = 0;

    const results = await interleave(ctx.rounds, {
      get: () => rate(() => redis.get('bench1:plain'), ctx.ms),
      verify: () => rate(() => store.verify(token), ctx.ms),
      verifySliding: () => rate(() => sliding.verify(token), ctx.ms),
      verifyCached: () => rate(() => cached.verify(token), ctx.ms),
      sessionsGet: () => rate(() => sessions.get({ app: 'bench', token: session.token }), ctx.ms),
      set: () => rate(() => redis.set(`bench1:set:${n++}`, value, 'PX', 600_000), ctx.ms),
      issue: () =>
        rate(
          () =>
            store.issue(`user-${n++}`, {
              device: 'a1b2c3d4e5f6a7b8',
              meta: { label: 'Pixel 7' },
              ttl: 600,
            }),
          ctx.ms,
        ),
    });
    const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
    const plain = await perVerify(admin, store, token, ctx.quick ? 2000 : 10_000);
    const slid = await perVerify(admin, sliding, token, ctx.quick ? 2000 : 10_000);
    const always = await perVerify(admin, everyTime, token, ctx.quick ? 2000 : 10_000);
    const get = m.get;
    return [
      { section: '1', name: 'ioredis GET of one key, 100 in flight', value: get, unit: 'calls/s' },
      {
        section: '1',
        name: 'TokenStore.verify',
        value: m.verify,
        unit: 'calls/s',
        ratio: m.verify / get,
        versus: 'GET',
        target: '>= 0.7x GET',
        met: m.verify / get >= 0.7,
      },
      {
        section: '1',
        name: 'TokenStore.verify, sliding expiry on',
        value: m.verifySliding,
        unit: 'calls/s',
        ratio: m.verifySliding / get,
        versus: 'GET',
      },
      {
        section: '1',
        name: 'Redis commands per verify, default and sliding expiry',
        value: Math.max(plain.commands, slid.commands),
        unit: 'per verify',
        note: `${plain.commands.toFixed(3)} and ${slid.commands.toFixed(3)}`,
        target: 'exactly 1',
        met: plain.commands === 1 && slid.commands === 1,
      },
      {
        section: '1',
        name: 'Redis commands per verify, sliding, touchInterval 0',
        value: always.commands,
        unit: 'per verify',
        note: `record writes inside it ${always.writes.toFixed(2)}/verify`,
        target: 'exactly 1',
        met: always.commands === 1,
      },
      {
        section: '1',
        name: 'TokenStore.verify, cache on, hot token',
        value: m.verifyCached,
        unit: 'calls/s',
        ratio: m.verifyCached / get,
        versus: 'GET',
        target: '>= 1.5x GET',
        met: m.verifyCached / get >= 1.5,
      },
      {
        section: '1',
        name: 'redis-sessions get (peer)',
        value: m.sessionsGet,
        unit: 'calls/s',
        ratio: m.sessionsGet / get,
        versus: 'GET',
      },
      {
        section: '1',
        name: 'ioredis SET of a new key, 100 in flight',
        value: m.set,
        unit: 'calls/s',
      },
      {
        section: '1',
        name: 'TokenStore.issue (new user each)',
        value: m.issue,
        unit: 'calls/s',
        ratio: m.issue / m.set,
        versus: 'SET',
      },
    ];
  } finally {
    await Promise.all([store.close(), cached.close(), sessions.quit()]);
    redis.disconnect();
    admin.disconnect();
  }
}
