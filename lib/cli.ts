#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { importFile } from './cli-import.js';
import type { RowFormat } from './cli-rows.js';
import { collectStats, type StoreStats } from './cli-stats.js';
import { TokenStoreError } from './errors.js';
import { TokenStore } from './token-store.js';
import type { TokenInfo } from './types.js';

/*
 * The admin CLI, `passport-redis-multitokens <command>`: list, revoke and import tokens and
 * count a store's keys without writing a script. Exit codes: 0 done, 1 nothing found or
 * some rows refused, 2 a usage error, 3 Redis unavailable.
 */

const BIN = 'passport-redis-multitokens';
const EXIT_PARTIAL = 1;
const EXIT_USAGE = 2;
const EXIT_REDIS = 3;
const CONNECT_TIMEOUT_MS = 3000;
// A bulk import keeps Redis busy: give each call more time than an app request gets.
const CALL_TIMEOUT_MS = 10_000;

const COMMON_HELP = `Options for every command:
  --prefix <keyPrefix>      the store's keyPrefix (default: mt:)
  --token-prefix <prefix>   the store's tokenPrefix (default: mt_)
  --secret-env <NAME>       read the store's HMAC secret from the environment variable NAME;
                            repeat for older keys, newest first (default: plain SHA-256)
  -h, --help                show help

Environment:
  REDIS_URL                 the Redis to use (default: redis://127.0.0.1:6379)

Exit codes: 0 done, 1 nothing found or some rows refused, 2 usage error, 3 Redis unavailable.`;

const HELP: Record<string, string> = {
  '': `Usage: ${BIN} <command> [options]

Operates the token store of passport-redis-multitokens.

Commands:
  list <userId>               list a user's live tokens (a table, or --json)
  revoke <userId> <tokenId>   revoke one token by its public id
  revoke-all <userId>         revoke every token of a user
  stats                       count users, tokens, tokens by device, memory
  import <file>               import legacy tokens from CSV or JSON lines

Run '${BIN} <command> --help' for a command's options.

${COMMON_HELP}`,
  list: `Usage: ${BIN} list <userId> [--json]

Lists the user's live tokens, newest first. Shows no secret.

  --json    print JSON instead of a table

${COMMON_HELP}`,
  revoke: `Usage: ${BIN} revoke <userId> <tokenId>

Revokes one of the user's tokens by its public id (as 'list' shows it).
Exits 1 when the user holds no live token with that id.

${COMMON_HELP}`,
  'revoke-all': `Usage: ${BIN} revoke-all <userId>

Revokes every token of the user ("sign out everywhere") and prints how many were live.

${COMMON_HELP}`,
  stats: `Usage: ${BIN} stats [--json] [--top <n>]

Counts users, tokens, tokens by device and the memory the store's keys use. Walks the keys
with SCAN in batches of 1000 (never KEYS), so it does not block Redis.

  --json       print JSON instead of text
  --top <n>    how many device names to show (default: 10)

${COMMON_HELP}`,
  import: `Usage: ${BIN} import <file> [options]

Imports tokens of an older bearer setup, one per line, so that they verify from Redis.
<file> is CSV (userId,token[,device], an optional header line) or JSON lines
({"userId": ..., "token": ..., "device": ...}); '-' reads standard input. The file is
streamed: memory stays bounded for millions of rows. A bad row is reported with its line
number and skipped; importing a file twice imports nothing twice.

  --format <csv|jsonl>   the file's format (default: from the extension, else the first line)
  --ttl <seconds|never>  how long imported tokens live (default: 2592000, 30 days)
  --concurrency <n>      imports under way at once, 1 to 1000 (default: 50)
  --quiet                no progress output

Progress goes to stderr: a bar on a terminal, plain lines otherwise. The summary goes to
stdout. Exits 1 when some rows were refused, 3 when Redis failed (re-running is safe).

${COMMON_HELP}`,
};

class UsageError extends Error {}

interface Parsed {
  command: string;
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

function parse(argv: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      prefix: { type: 'string' },
      'token-prefix': { type: 'string' },
      'secret-env': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      top: { type: 'string' },
      format: { type: 'string' },
      ttl: { type: 'string' },
      concurrency: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const [command = '', ...rest] = positionals;
  return { command, positionals: rest, values };
}

function openStore(values: Parsed['values'], ttl?: number | null): TokenStore {
  const names = (values['secret-env'] as string[] | undefined) ?? [];
  const secrets = names.map((name) => {
    const value = process.env[name];
    if (value === undefined || value === '') {
      throw new UsageError(`the environment variable ${name} (--secret-env) is not set`);
    }
    return value;
  });
  return new TokenStore({
    redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix: values.prefix as string | undefined,
    tokenPrefix: values['token-prefix'] as string | undefined,
    secret: secrets.length === 0 ? undefined : secrets,
    ttl,
    timeout: CALL_TIMEOUT_MS,
  });
}

/** Fails fast with exit code 3 when Redis does not answer, before any command runs. */
async function ping(store: TokenStore): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer')), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([store.redis.ping(), deadline]);
  } catch (err) {
    throw new RedisDown(`Redis at ${redactedUrl()} is unavailable: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

class RedisDown extends Error {}

function redactedUrl(): string {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function arity(parsed: Parsed, names: string[]): string[] {
  if (parsed.positionals.length !== names.length) {
    throw new UsageError(
      `${parsed.command} takes ${names.map((n) => `<${n}>`).join(' ') || 'no arguments'}`,
    );
  }
  return parsed.positionals;
}

function integerOption(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UsageError(`--${name} must be an integer from 1 to ${max}`);
  }
  return n;
}

function ttlOption(value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'never') return null;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError('--ttl must be a positive number of seconds or "never"');
  }
  return n;
}

function formatOption(value: unknown): RowFormat | undefined {
  if (value === undefined || value === 'csv' || value === 'jsonl') return value;
  throw new UsageError('--format must be csv or jsonl');
}

async function run(parsed: Parsed): Promise<number> {
  const { command, values } = parsed;
  const help = HELP[command];
  if (help === undefined) throw new UsageError(`unknown command '${command}'`);
  if (values.help || command === '') {
    process.stdout.write(`${help}\n`);
    return command === '' && !values.help ? EXIT_USAGE : 0;
  }

  const importTtl = command === 'import' ? ttlOption(values.ttl) : undefined;
  const [first, second] =
    command === 'list' || command === 'revoke-all'
      ? arity(parsed, ['userId'])
      : command === 'revoke'
        ? arity(parsed, ['userId', 'tokenId'])
        : command === 'import'
          ? arity(parsed, ['file'])
          : arity(parsed, []);
  const format = formatOption(values.format);
  const concurrency = integerOption('concurrency', values.concurrency, 50, 1000);
  const top = integerOption('top', values.top, 10, 1000);

  const store = openStore(values, importTtl);
  try {
    await ping(store);
    switch (command) {
      case 'list':
        return await list(store, first, values.json === true);
      case 'revoke':
        return await revoke(store, first, second);
      case 'revoke-all': {
        const count = await store.revokeAll(first);
        process.stdout.write(`revoked ${count} token${count === 1 ? '' : 's'} of ${first}\n`);
        return 0;
      }
      case 'stats':
        return await stats(store, values.json === true, top);
      default:
        return await runImport(store, {
          file: first,
          format,
          ttl: importTtl,
          concurrency,
          quiet: values.quiet === true,
        });
    }
  } finally {
    await store.close();
  }
}

async function list(store: TokenStore, userId: string, json: boolean): Promise<number> {
  const tokens = await store.list(userId);
  if (json) {
    process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
  } else if (tokens.length === 0) {
    process.stdout.write(`${userId} holds no live token\n`);
  } else {
    process.stdout.write(table(tokens));
  }
  return 0;
}

function table(tokens: TokenInfo[]): string {
  const date = (d: Date | null) => (d === null ? 'never' : `${d.toISOString().slice(0, 19)}Z`);
  const rows = [
    ['ID', 'DEVICE', 'CREATED', 'LAST USED', 'EXPIRES', 'LAST IP'],
    ...tokens.map((t) => [
      t.id,
      t.device ?? '-',
      date(t.createdAt),
      date(t.lastUsedAt),
      date(t.expiresAt),
      t.lastIp ?? '-',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

async function revoke(store: TokenStore, userId: string, id: string): Promise<number> {
  if (await store.revokeById(userId, id)) {
    process.stdout.write(`revoked ${id} of ${userId}\n`);
    return 0;
  }
  process.stderr.write(`${userId} holds no live token with the id ${id}\n`);
  return EXIT_PARTIAL;
}

async function stats(store: TokenStore, json: boolean, top: number): Promise<number> {
  if (store.redis.isCluster) throw new UsageError('stats runs on a single Redis node');
  const result = await collectStats(store.redis as Redis, store.keyPrefix, top);
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : statsText(result));
  return 0;
}

function statsText(s: StoreStats): string {
  const lines = [
    `users               ${s.users}`,
    `tokens              ${s.tokens}`,
    `imported pointers   ${s.importPointers}`,
    'tokens by device:',
    `  (no device)       ${s.tokensWithoutDevice}`,
    ...s.topDevices.map(({ device, tokens }) => `  ${device.padEnd(17)} ${tokens}`),
  ];
  const shown = s.topDevices.reduce((sum, d) => sum + d.tokens, 0);
  const rest = s.tokens - s.tokensWithoutDevice - shown;
  if (rest > 0) lines.push(`  (other devices)   ${rest}`);
  lines.push(
    `distinct devices    ${s.distinctDevices}`,
    `memory of keys      ${bytes(s.memory.total)} (tokens ${bytes(s.memory.tokens)}, ` +
      `indexes ${bytes(s.memory.indexes)}, pointers ${bytes(s.memory.pointers)})`,
    `server used_memory  ${s.serverMemory === null ? 'unknown' : bytes(s.serverMemory)}`,
  );
  return `${lines.join('\n')}\n`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

async function runImport(
  store: TokenStore,
  options: Parameters<typeof importFile>[1],
): Promise<number> {
  const s = await importFile(store, options, process.stderr);
  const rate = s.seconds > 0 ? Math.round(s.rows / s.seconds) : s.rows;
  process.stdout.write(
    `${s.rows} rows in ${s.seconds.toFixed(1)} s (${rate} rows/s): ${s.imported} imported, ` +
      `${s.existing} already there, ${s.revoked} left revoked, ${s.refused} refused\n`,
  );
  if (s.stoppedBy !== null) {
    throw new RedisDown(`import stopped: ${s.stoppedBy.message}; re-running it is safe`);
  }
  return s.refused > 0 ? EXIT_PARTIAL : 0;
}

async function main(argv: string[]): Promise<number> {
  try {
    return await run(parse(argv));
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (err instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${BIN}: ${(err as Error).message}\nSee '${BIN} --help'.\n`);
      return EXIT_USAGE;
    }
    if (err instanceof RedisDown || code === 'ERR_REDIS_UNAVAILABLE') {
      process.stderr.write(`${BIN}: ${(err as Error).message}\n`);
      return EXIT_REDIS;
    }
    if (err instanceof TokenStoreError || (err as { code?: string }).code === 'ENOENT') {
      process.stderr.write(`${BIN}: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${BIN}: unexpected error: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
