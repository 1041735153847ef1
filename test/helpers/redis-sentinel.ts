import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import {
  freePort,
  info,
  launchRedis,
  query,
  type RedisServer,
  startRedisServer,
  waitFor,
} from './redis-server.js';

export const SENTINEL_MASTER_NAME = 'mymaster';

/** One master, its replica and three Sentinels watching them, started by this test run. */
export interface SentinelDeployment {
  /** The two data servers; which one is the master changes with a failover. */
  servers: RedisServer[];
  sentinels: RedisServer[];
  sentinelNodes: Array<{ host: string; port: number }>;
  name: string;
  /** A Sentinel-configured client of this deployment; the caller closes it. */
  connect(options?: RedisOptions): Redis;
  /** The data server the Sentinels name as master now. */
  master(): Promise<RedisServer>;
  /** Waits until every Sentinel knows the master, the replica and the other Sentinels. */
  waitHealthy(timeout?: number): Promise<void>;
  /** Restarts killed data servers as replicas of the master, and waits until healthy. */
  revive(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartSentinelOptions {
  /** Milliseconds of silence before a Sentinel deems the master down. */
  downAfter?: number;
}

/**
 * Starts a master, a replica of it and three Sentinels (quorum 2) from plain
 * `redis-server` binaries, and resolves once the replica is in sync and the Sentinels know
 * each other. Every process it started is stopped again if that fails.
 */
export async function startSentinelDeployment(
  options: StartSentinelOptions = {},
): Promise<SentinelDeployment> {
  const downAfter = options.downAfter ?? 1000;
  const servers: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  const replication = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];

  async function stop(): Promise<void> {
    await Promise.all([...sentinels, ...servers].map((server) => server.stop()));
  }

  try {
    const master = await startRedisServer(replication);
    servers.push(master);
    servers.push(
      await startRedisServer([...replication, '--replicaof', '127.0.0.1', String(master.port)]),
    );
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'mt-sentinel-'));
      const config = join(dir, 'sentinel.conf');
      writeFileSync(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfter}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${downAfter * 5}`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(await launchRedis([config, '--sentinel'], port, dir));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const deployment: SentinelDeployment = {
    servers,
    sentinels,
    sentinelNodes: sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port })),
    name: SENTINEL_MASTER_NAME,
    connect(clientOptions = {}) {
      const client = new Redis({
        sentinels: deployment.sentinelNodes,
        name: SENTINEL_MASTER_NAME,
        ...clientOptions,
      });
      client.on('error', () => {});
      return client;
    },
    async master() {
      for (const sentinel of sentinels) {
        const address = await query(
          sentinel.port,
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          SENTINEL_MASTER_NAME,
        ).catch(() => null);
        if (!Array.isArray(address)) continue;
        const server = servers.find((s) => s.port === Number(address[1]));
        if (server !== undefined) return server;
      }
      throw new Error('no Sentinel names a master');
    },
    async waitHealthy(timeout = 20_000) {
      await waitFor(
        'the replica to sync and the Sentinels to know each other',
        async () => {
          const master = await deployment.master();
          const replica = servers.find((server) => server !== master) as RedisServer;
          const link = await info(replica.port, 'replication');
          if (link.role !== 'slave' || link.master_link_status !== 'up') return false;
          if (Number(link.master_port) !== master.port) return false;
          for (const sentinel of sentinels) {
            const flags = await query(sentinel.port, 'SENTINEL', 'MASTER', SENTINEL_MASTER_NAME);
            const fields = pairs(flags);
            if (Number(fields.port) !== master.port || fields.flags !== 'master') return false;
            if (Number(fields['num-slaves']) < 1 || Number(fields['num-other-sentinels']) < 2) {
              return false;
            }
          }
          return true;
        },
        { timeout, interval: 100 },
      );
    },
    async revive() {
      const master = await deployment.master();
      for (const server of servers) {
        if (server.running) continue;
        await server.restart();
        // What the Sentinels would do too, but only after watching it for 8 s as a master.
        await query(server.port, 'REPLICAOF', '127.0.0.1', master.port);
      }
      await deployment.waitHealthy();
    },
    stop,
  };
  try {
    await deployment.waitHealthy();
  } catch (err) {
    await stop();
    throw err;
  }
  return deployment;
}

/** A flat [name, value, name, value, ...] reply as a map. */
function pairs(reply: unknown): Record<string, string> {
  const list = Array.isArray(reply) ? reply.map(String) : [];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}
