import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { TokenStore } from '../lib/index.js';
import type { BenchContext } from './context.js';
import { interleave, median } from './measure.js';
import type { Row } from './report.js';

const SERVER = fileURLToPath(new URL('./http-server.ts', import.meta.url));

const VARIANTS = {
  none: 'no authentication',
  'bearer-memory': 'passport-http-bearer, in-memory token map',
  'bearer-redis-get': 'passport-http-bearer, verify does one Redis GET',
  multitoken: 'RedisMultiTokenStrategy',
  'multitoken-cache': 'RedisMultiTokenStrategy, cache on',
  jwt: 'passport-jwt (HS256)',
} as const;
type Variant = keyof typeof VARIANTS;

interface Server {
  child: ChildProcess;
  port: number;
}

function startServer(variant: Variant, env: Record<string, string>): Promise<Server> {
  const child = fork(SERVER, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env, BENCH_VARIANT: variant },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${variant} server did not start`)), 20_000);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolve({ child, port: message.port });
    });
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
}

/** Requests per second one variant serves to 50 connections for `seconds`. */
async function load(port: number, token: string, seconds: number): Promise<number> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/me`,
    connections: 50,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`port ${port}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return result.requests.total / (result.duration || seconds);
}

/** Row 2: requests per second of one Express 5 route behind each kind of authentication. */
export async function httpLevel(ctx: BenchContext): Promise<Row[]> {
  const redis = new Redis(ctx.url);
  const store = new TokenStore({ redis, keyPrefix: 'bench2:' });
  const servers = new Map<Variant, Server>();
  try {
    const bearer = randomBytes(32).toString('base64url');
    await redis.set(`bench2:tok:${bearer}`, 'user-hot');
    const secret = randomBytes(32).toString('hex');
    const issued = await store.issue('user-hot', { device: 'a1b2c3d4e5f6a7b8' });
    const signed = jwt.sign({ sub: 'user-hot' }, secret, { algorithm: 'HS256', expiresIn: 3600 });
    const tokens: Record<Variant, string> = {
      none: bearer,
      'bearer-memory': bearer,
      'bearer-redis-get': bearer,
      multitoken: issued.token,
      'multitoken-cache': issued.token,
      jwt: signed,
    };
    const env = { BENCH_REDIS_URL: ctx.url, BENCH_BEARER_TOKEN: bearer, BENCH_JWT_SECRET: secret };
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      servers.set(variant, await startServer(variant, env));
    }
    const seconds = ctx.quick ? 1 : 3;
    // One short warm-up per server, so JIT and connection set-up stay out of the figures.
    for (const [variant, server] of servers) await load(server.port, tokens[variant], 1);

    const runs = Object.fromEntries(
      [...servers].map(([variant, server]) => [
        variant,
        () => load(server.port, tokens[variant], seconds),
      ]),
    );
    const results = await interleave(ctx.rounds, runs);
    const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
    const rows: Row[] = [];
    for (const [variant, label] of Object.entries(VARIANTS) as Array<[Variant, string]>) {
      const row: Row = {
        section: '2',
        name: label,
        value: m[variant],
        unit: 'req/s',
        ratio: m[variant] / m['bearer-redis-get'],
        versus: 'bearer+GET',
      };
      if (variant === 'multitoken' || variant === 'multitoken-cache') {
        const vsGet = m[variant] / m['bearer-redis-get'];
        const vsJwt = m[variant] / m.jwt;
        row.note = `${vsJwt.toFixed(2)}x passport-jwt`;
        row.target = '>= 0.95x bearer+GET, >= 4x jwt';
        row.met = vsGet >= 0.95 && vsJwt >= 4;
      }
      rows.push(row);
    }
    return rows;
  } finally {
    for (const { child } of servers.values()) child.kill('SIGKILL');
    await store.close();
    redis.disconnect();
  }
}
