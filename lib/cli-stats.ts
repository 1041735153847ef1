import type { Redis } from 'ioredis';

/* The `stats` command: counts a store's keys with SCAN, one bounded batch at a time. */

const SCAN_COUNT = 1000;
/** Distinct device names counted one by one; later ones are summed as "other". */
const MAX_DEVICES = 10_000;

export interface StoreStats {
  users: number;
  tokens: number;
  /** Tokens imported from an older setup that still have a pointer (live or revoked). */
  importPointers: number;
  tokensWithoutDevice: number;
  /** The most common device names, most tokens first (at most `top`). */
  topDevices: Array<{ device: string; tokens: number }>;
  /** Distinct device names seen (exact up to 10,000). */
  distinctDevices: number;
  /** Tokens on devices past the first 10,000 distinct names. */
  otherDeviceTokens: number;
  memory: { tokens: number; indexes: number; pointers: number; total: number };
  /** The server's `used_memory`, all databases and keys included. */
  serverMemory: number | null;
}

/**
 * Walks every key under `keyPrefix` with SCAN (never KEYS), reading devices and sizes of each
 * batch in one pipeline, so the server is never blocked for long and memory stays bounded.
 */
export async function collectStats(redis: Redis, keyPrefix: string, top = 10): Promise<StoreStats> {
  const stats: StoreStats = {
    users: 0,
    tokens: 0,
    importPointers: 0,
    tokensWithoutDevice: 0,
    topDevices: [],
    distinctDevices: 0,
    otherDeviceTokens: 0,
    memory: { tokens: 0, indexes: 0, pointers: 0, total: 0 },
    serverMemory: null,
  };
  const devices = new Map<string, number>();
  const kind = new RegExp(`^${escapeRegExp(keyPrefix)}\\{[^}]*\\}:([tul]):`);
  const pattern = `${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`;

  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    const ours = keys
      .map((key) => ({ key, kind: kind.exec(key)?.[1] }))
      .filter((entry): entry is { key: string; kind: 't' | 'u' | 'l' } => !!entry.kind);
    if (ours.length === 0) continue;

    const pipeline = redis.pipeline();
    for (const { key, kind: k } of ours) {
      pipeline.call('MEMORY', 'USAGE', key);
      if (k === 't') pipeline.hget(key, 'd');
    }
    const replies = (await pipeline.exec()) ?? [];
    let at = 0;
    for (const { kind: k } of ours) {
      const bytes = Number(replies[at++]?.[1] ?? 0);
      stats.memory.total += bytes;
      if (k === 'u') {
        stats.users++;
        stats.memory.indexes += bytes;
      } else if (k === 'l') {
        stats.importPointers++;
        stats.memory.pointers += bytes;
      } else {
        const device = replies[at++]?.[1] as string | null | undefined;
        // A record that expired between SCAN and the pipeline has no size and no fields.
        if (bytes === 0) continue;
        stats.tokens++;
        stats.memory.tokens += bytes;
        countDevice(stats, devices, device ?? null);
      }
    }
  } while (cursor !== '0');

  stats.distinctDevices = devices.size;
  stats.topDevices = [...devices]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, top)
    .map(([device, tokens]) => ({ device, tokens }));
  const info = await redis.info('memory');
  const used = /^used_memory:(\d+)/m.exec(info);
  stats.serverMemory = used ? Number(used[1]) : null;
  return stats;
}

function countDevice(stats: StoreStats, devices: Map<string, number>, device: string | null): void {
  if (device === null || device === '') {
    stats.tokensWithoutDevice++;
  } else if (devices.has(device) || devices.size < MAX_DEVICES) {
    devices.set(device, (devices.get(device) ?? 0) + 1);
  } else {
    stats.otherDeviceTokens++;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
