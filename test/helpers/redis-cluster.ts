import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions, type Redis } from 'ioredis';
import {
  freePort,
  info,
  query,
  type RedisServer,
  startRedisServer,
  waitFor,
} from './redis-server.js';

const run = promisify(execFile);

/** A Redis Cluster of masters with one replica each, started by this test run on loopback. */
export interface RedisClusterDeployment {
  servers: RedisServer[];
  startupNodes: Array<{ host: string; port: number }>;
  /** A Cluster client of this deployment; the caller closes it. */
  connect(options?: ClusterOptions): Cluster;
  /** The servers that are masters now, by their own account. */
  masters(): Promise<RedisServer[]>;
  /** The server that replicates `master` now. */
  replicaOf(master: RedisServer): Promise<RedisServer>;
  /** Waits until every node reports `cluster_state:ok` and every replica is in sync. */
  waitHealthy(timeout?: number): Promise<void>;
  /** Restarts the nodes that were killed (they rejoin as replicas) and waits until healthy. */
  revive(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  masters?: number;
  /**
   * Milliseconds before a silent node counts as failing (`cluster-node-timeout`). Short, so
   * a killed master's replica takes over within seconds, but not so short that a busy
   * machine starts failovers of its own.
   */
  nodeTimeout?: number;
}

/**
 * Starts `masters` masters and as many replicas from plain `redis-server` binaries, joins
 * them with `redis-cli --cluster create --cluster-replicas 1`, and resolves once the
 * cluster is healthy. Every process it started is stopped again if that fails.
 */
export async function startRedisCluster(
  options: StartClusterOptions = {},
): Promise<RedisClusterDeployment> {
  const masters = options.masters ?? 3;
  const nodeTimeout = options.nodeTimeout ?? 1500;
  const servers: RedisServer[] = [];

  async function stop(): Promise<void> {
    await Promise.all(servers.map((server) => server.stop()));
  }

  try {
    for (let i = 0; i < masters * 2; i++) {
      // The bus port gets a free port of its own: port + 10000 may lie beyond 65535.
      const busPort = await freePort();
      servers.push(
        await startRedisServer([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(nodeTimeout),
          '--cluster-port',
          String(busPort),
          '--repl-diskless-sync',
          'yes',
          '--repl-diskless-sync-delay',
          '0',
        ]),
      );
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map((server) => `127.0.0.1:${server.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const deployment: RedisClusterDeployment = {
    servers,
    startupNodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    connect(clusterOptions = {}) {
      const cluster = new Cluster(deployment.startupNodes, clusterOptions);
      cluster.on('error', () => {});
      cluster.on('node error', () => {});
      return cluster;
    },
    async masters() {
      const roles = await Promise.all(
        servers.map((server) => info(server.port, 'replication').catch(() => ({ role: '' }))),
      );
      return servers.filter((_, i) => roles[i].role === 'master');
    },
    async replicaOf(master) {
      for (const server of servers) {
        if (server === master) continue;
        const fields = await info(server.port, 'replication').catch(() => null);
        if (fields?.role === 'slave' && Number(fields.master_port) === master.port) return server;
      }
      throw new Error(`no replica of the master on port ${master.port}`);
    },
    async waitHealthy(timeout = 20_000) {
      await waitFor(
        'every cluster node to report cluster_state:ok with its replicas in sync',
        async () => {
          for (const server of servers) {
            const state = String(await query(server.port, 'CLUSTER', 'INFO'));
            if (!state.includes('cluster_state:ok')) return false;
            if (!state.includes(`cluster_known_nodes:${servers.length}`)) return false;
            const replication = await info(server.port, 'replication');
            if (replication.role === 'slave' && replication.master_link_status !== 'up') {
              return false;
            }
          }
          return (await deployment.masters()).length === masters;
        },
        { timeout, interval: 100 },
      );
    },
    async revive() {
      for (const server of servers) if (!server.running) await server.restart();
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

/** The master among the cluster client's nodes that serves `key` now. */
export async function clusterNodeFor(cluster: Cluster, key: string): Promise<Redis> {
  const [any] = cluster.nodes('master');
  const slot = Number(await any.cluster('KEYSLOT', key));
  const ranges = await any.cluster('SLOTS');
  const range = ranges.find(([first, last]) => slot >= first && slot <= last);
  const port = Number(range?.[2]?.[1]);
  const node = cluster.nodes('master').find((n) => n.options.port === port);
  if (node === undefined) throw new Error(`no master of the client serves slot ${slot}`);
  return node;
}
