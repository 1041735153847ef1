import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RedisMultiTokenStrategy } from '../../lib/index.js';
import { startExpressApp, type TestApp } from '../helpers/express-app.js';
import { type RedisServer, startRedisServer, uniquePrefix, waitFor } from '../helpers/index.js';

/*
 * A bounded soak: steady mixed traffic through Express for SOAK_SECONDS (default 120), with
 * the heap of this process (app and client together, measured after a forced GC) and Redis's
 * used_memory sampled every second. Run with `npm run test:soak`; not part of `npm test`.
 */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
/** Operations per second; a login or logout adds the next use of the token it revoked. */
const RATE = Number(process.env.SOAK_RATE ?? 200);
/** Seconds until every device slot holds a token and the JIT has settled. */
const WARM_UP = 30;
/** Flatness is judged on at least 30 s after the warm-up; shorter runs only report it. */
const JUDGE_SLOPES = SECONDS >= WARM_UP + 30;
const USERS = 200;
const DEVICES = 3;
const MAX_IN_FLIGHT = 64;
/*
 * Flat means: a leak of one small object (about 100 bytes) per operation would grow the heap
 * by RATE * 100 B/s (20,000 B/s at 200 operations/s), and one stray token record per login
 * (about 250 bytes, a quarter of the operations) Redis by RATE * 62 B/s (12,400 B/s). The bounds
 * are a quarter of those, well above the noise of a steady run.
 */
const HEAP_SLOPE_BOUND = RATE * 25;
const REDIS_SLOPE_BOUND = RATE * 15;

interface Slot {
  user: string;
  device: string;
  token: string | null;
  busy: boolean;
}

/** Bytes in use per V8 heap space, to tell code from data when the heap grows. */
function heapSpaces(): Map<string, number> {
  return new Map(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

let sent = 0;

function call(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  token?: string,
  body?: object,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    sent++;
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

describe('a soak of mixed traffic through Express', function () {
  this.timeout(0);
  let redis: RedisServer;
  let admin: Redis;
  let strategy: RedisMultiTokenStrategy;
  let app: TestApp;
  // Few connections, so the keep-alive pool is full before the warm-up ends.
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });

  before(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
    strategy = new RedisMultiTokenStrategy({ redis: redis.url, keyPrefix: uniquePrefix() });
    // Idle keep-alive connections stay open all run: a client reusing one as the server
    // times it out would see "socket hang up", a race of the test harness, not of the app.
    app = await startExpressApp(strategy, { keepAliveTimeout: (SECONDS + 60) * 1000 });
  });

  after(async () => {
    agent.destroy();
    await app?.close();
    await strategy?.store.close();
    await admin?.quit();
    await redis?.stop();
  });

  it(`keeps memory flat with no error: ${SECONDS} s at ${RATE} operations/s`, async () => {
    const slots: Slot[] = [];
    for (let u = 0; u < USERS; u++) {
      for (let d = 0; d < DEVICES; d++) {
        slots.push({ user: `user-${u}`, device: `device-${d}`, token: null, busy: false });
      }
    }
    const errors: string[] = [];
    const counts = { operations: 0, revokedChecked: 0, skipped: 0 };
    let inFlight = 0;
    const fail = (what: string) => {
      if (errors.length < 20) errors.push(what);
      else errors.length++;
    };

    const pick = (withToken: boolean): Slot | undefined => {
      for (let tries = 0; tries < 8; tries++) {
        const slot = slots[Math.floor(Math.random() * slots.length)];
        if (!slot.busy && (slot.token !== null) === withToken) return slot;
        if (!slot.busy && withToken === false) return slot;
      }
      return undefined;
    };

    /** The next use of a token just revoked or replaced: it must be refused. */
    const useRevoked = async (token: string): Promise<void> => {
      const res = await call(agent, app.port, 'GET', '/me', token);
      counts.revokedChecked++;
      if (res.status !== 401) fail(`revoked token answered ${res.status}`);
    };

    const one = async (): Promise<void> => {
      const roll = Math.random();
      const slot = roll < 0.35 ? pick(false) : pick(true);
      if (slot === undefined) {
        counts.skipped++;
        return;
      }
      slot.busy = true;
      try {
        if (roll < 0.35 || slot.token === null) {
          const res = await call(agent, app.port, 'POST', '/login', undefined, {
            user: slot.user,
            device: slot.device,
          });
          if (res.status !== 201) return fail(`login answered ${res.status}`);
          const replaced = slot.token;
          slot.token = (JSON.parse(res.body) as { token: string }).token;
          if (replaced !== null) await useRevoked(replaced);
        } else if (roll < 0.8) {
          const res = await call(agent, app.port, 'GET', '/me', slot.token);
          if (res.status !== 200) return fail(`me answered ${res.status}`);
          if ((JSON.parse(res.body) as { user: string }).user !== slot.user) fail('wrong user');
        } else if (roll < 0.9) {
          const res = await call(agent, app.port, 'GET', '/devices', slot.token);
          if (res.status !== 200) return fail(`devices answered ${res.status}`);
          if ((JSON.parse(res.body) as string[]).length > DEVICES) fail('more tokens than devices');
        } else {
          const res = await call(agent, app.port, 'POST', '/logout', slot.token);
          if (res.status !== 204) return fail(`logout answered ${res.status}`);
          const token = slot.token;
          slot.token = null;
          await useRevoked(token);
        }
      } finally {
        slot.busy = false;
      }
    };

    const launch = () => {
      counts.operations++;
      inFlight++;
      one()
        .catch((err: Error) => fail(err.message))
        .finally(() => {
          inFlight--;
        });
    };

    const gc = (globalThis as { gc?: () => void }).gc;
    const heap: Array<[number, number]> = [];
    const redisMemory: Array<[number, number]> = [];
    const start = Date.now();
    let launched = 0;
    let nextSample = 1;
    let spacesAtWarmUp = new Map<string, number>();
    while (Date.now() - start < SECONDS * 1000) {
      const elapsed = (Date.now() - start) / 1000;
      // Steady rate: catch up to RATE * elapsed, never more than MAX_IN_FLIGHT at once.
      while (launched < RATE * elapsed && inFlight < MAX_IN_FLIGHT) {
        launch();
        launched++;
      }
      if (elapsed >= nextSample) {
        gc?.();
        if (nextSample === WARM_UP) spacesAtWarmUp = heapSpaces();
        const info = await admin.info('memory');
        heap.push([elapsed, process.memoryUsage().heapUsed]);
        redisMemory.push([elapsed, Number(/used_memory:(\d+)/.exec(info)?.[1])]);
        nextSample++;
      }
      // Pacing: the steady rate is what this loop is for.
      await sleep(5);
    }
    await waitFor('the requests in flight to finish', () => inFlight === 0, { interval: 5 });
    if (process.env.SOAK_VERBOSE) {
      gc?.();
      const spaces = heapSpaces();
      for (const [space, used] of spaces) {
        const grown = used - (spacesAtWarmUp.get(space) ?? 0);
        console.log(`      ${space.padEnd(28)} ${used} bytes used, ${grown} since warm-up`);
      }
      for (const [i, [t, bytes]] of heap.entries()) {
        console.log(`      ${t.toFixed(0)} s heap ${bytes} redis ${redisMemory[i][1]}`);
      }
    }

    const from = JUDGE_SLOPES ? WARM_UP : SECONDS / 2;
    const steady = (points: Array<[number, number]>) => points.filter(([t]) => t >= from);
    const heapSlope = slope(steady(heap));
    const redisSlope = slope(steady(redisMemory));
    const mean = (points: Array<[number, number]>) =>
      steady(points).reduce((s, [, y]) => s + y, 0) / steady(points).length;
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
    console.log(
      [
        `      ${counts.operations} operations, ${sent} requests in ${SECONDS} s`,
        `(${(sent / SECONDS).toFixed(0)} requests/s),`,
        `${counts.revokedChecked} revoked tokens used again,`,
        `${counts.skipped} picks skipped (slot busy)`,
        `\n      heap after GC: mean ${kb(mean(heap))}, slope ${kb(heapSlope)}/s`,
        `(bound ${kb(HEAP_SLOPE_BOUND)}/s)`,
        `\n      redis used_memory: mean ${kb(mean(redisMemory))}, slope ${kb(redisSlope)}/s`,
        `(bound ${kb(REDIS_SLOPE_BOUND)}/s), slopes from ${from} s on, ${heap.length} samples`,
        gc ? '' : '\n      (no --expose-gc: heap samples include garbage)',
      ].join(' '),
    );

    expect(errors).to.deep.equal([]);
    expect(app.errors).to.deep.equal([]);
    expect(counts.operations).to.be.at.least(RATE * SECONDS * 0.9);
    if (JUDGE_SLOPES) {
      expect(Math.abs(heapSlope)).to.be.below(HEAP_SLOPE_BOUND);
      expect(Math.abs(redisSlope)).to.be.below(REDIS_SLOPE_BOUND);
    } else {
      console.log(
        `      (${SECONDS} s is too short to judge flatness: it needs ${WARM_UP + 30} s)`,
      );
    }
  });
});
