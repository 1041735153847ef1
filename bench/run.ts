/*
 * npm run bench [-- --quick] [-- --json FILE] [-- --only 1,2,...]
 *
 * Measures the store against the floors and peers named in docs/performance.md and prints
 * one table. It starts its own redis-server(s) on free loopback ports and stops them.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startRedisServer } from '../test/helpers/redis-server.js';
import type { BenchContext } from './context.js';
import { httpLevel } from './http-level.js';
import { memory } from './memory.js';
import { type Row, table } from './report.js';
import { revocation } from './revocation.js';
import { scale } from './scale.js';
import { storeLevel } from './store-level.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const only = new Set((values.only ?? '1,2,3,4,5').split(','));

const sections: Array<[string, string, (ctx: BenchContext) => Promise<Row[]>]> = [
  ['1', 'store level', storeLevel],
  ['2', 'HTTP level', httpLevel],
  ['3', 'memory', memory],
  ['4', 'scale', scale],
  ['5', 'revocation with the cache on', revocation],
];

function machine() {
  const redis = execFileSync('redis-server', ['--version'])
    .toString()
    .match(/v=(\S+)/)?.[1];
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: redis ?? 'unknown',
    platform: `${process.platform} ${process.arch}`,
  };
}

const server = await startRedisServer();
const ctx: BenchContext = {
  url: server.url,
  port: server.port,
  quick,
  rounds: quick ? 2 : 5,
  ms: quick ? 500 : 2000,
};
const rows: Row[] = [];
const started = Date.now();
try {
  for (const [id, title, run] of sections) {
    if (!only.has(id)) continue;
    process.stderr.write(`running ${id}: ${title}...\n`);
    rows.push(...(await run(ctx)));
  }
} finally {
  await server.stop();
}

const about = machine();
const seconds = Math.round((Date.now() - started) / 1000);
console.log(
  `${about.cores} cores (${about.cpu}), ${about.memoryGiB} GiB, Node ${about.node}, ` +
    `Redis ${about.redis}, ${about.platform}; ${quick ? 'quick' : 'full'} run, ` +
    `${ctx.rounds} interleaved rounds, ${seconds} s`,
);
console.log(table(rows));
if (values.json !== undefined) {
  const result = {
    date: new Date().toISOString(),
    machine: about,
    quick,
    rounds: ctx.rounds,
    rows,
  };
  writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
}
process.exit(0);
