import { expect } from 'chai';
import type { Cluster } from 'ioredis';
import { NotDurableError, TokenStore } from '../lib/index.js';
import {
  clusterNodeFor,
  describeRun,
  expectFailedClosed,
  info,
  isolateReplica,
  RECOMMENDED_CLUSTER_OPTIONS,
  type RedisClusterDeployment,
  runFault,
  seedTokens,
  startRedisCluster,
  waitFor,
  wrongAnswers,
} from './helpers/index.js';

const TIMEOUT = 1000;
const SLACK = 500;

describe('a Redis Cluster that loses a master under load', function () {
  this.timeout(90_000);
  let cluster: RedisClusterDeployment | undefined;
  const clients: Cluster[] = [];
  const stores: TokenStore[] = [];

  before(async () => {
    cluster = await startRedisCluster({ nodeTimeout: 1000 });
  });

  after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
    await cluster?.stop();
  });

  function storeOn(client: Cluster): TokenStore {
    clients.push(client);
    const store = new TokenStore({ redis: client, timeout: TIMEOUT, durable: 1 });
    stores.push(store);
    return store;
  }

  it('fails its slots with 503 until the replica takes over, then serves them all', async () => {
    const deployment = cluster as RedisClusterDeployment;
    await deployment.revive();
    const client = deployment.connect(RECOMMENDED_CLUSTER_OPTIONS);
    const recommended = storeOn(client);
    const defaults = storeOn(deployment.connect());
    // Durable: every token and revocation is on a replica before the master dies.
    const tokens = await seedTokens(recommended, 60);

    // The victim is the master of user-1's slot (the token's tag picks the slot).
    const tagOf = (token: string) => token.slice(3, 7);
    const node = await clusterNodeFor(client, `{${tagOf(tokens[1].token)}}`);
    const victim = deployment.servers.find((server) => server.port === node.options.port);
    if (victim === undefined) throw new Error('the victim is not one of ours');
    const replica = await deployment.replicaOf(victim);
    let onVictim = 0;
    for (const { token } of tokens) {
      if ((await clusterNodeFor(client, `{${tagOf(token)}}`)) === node) onVictim++;
    }

    const run = await runFault([recommended, defaults], tokens, {
      inject: () => victim.kill(),
      async heal() {
        await waitFor(
          'the replica to take over',
          async () => (await info(replica.port, 'replication')).role === 'master',
          { timeout: 20_000, interval: 50 },
        );
        return Date.now();
      },
    });

    console.log(`      ${onVictim} of ${tokens.length} tokens were on the master killed`);
    console.log(`      ${describeRun('cluster, recommended options', run, run.reports[0])}`);
    console.log(`      ${describeRun('cluster, ioredis defaults', run, run.reports[1])}`);
    expectFailedClosed(run, TIMEOUT + SLACK);
    for (const report of run.reports) {
      expect((report.resumedAt as number) - run.backAt, 'recovery (ms)').to.be.at.most(5000);
    }
    expect(onVictim).to.be.greaterThan(0);
    expect(await wrongAnswers(recommended, tokens)).to.deep.equal([]);
    expect(await wrongAnswers(defaults, tokens)).to.deep.equal([]);
  });

  it('loses a token issued without durable in a failover, never a durable one', async () => {
    const deployment = cluster as RedisClusterDeployment;
    await deployment.revive();
    const client = deployment.connect(RECOMMENDED_CLUSTER_OPTIONS);
    const store = storeOn(client);
    const kept = await store.issue('carol', { device: 'phone' });
    const node = await clusterNodeFor(client, `{${kept.token.slice(3, 7)}}`);
    const master = deployment.servers.find((server) => server.port === node.options.port);
    if (master === undefined) throw new Error('the master is not one of ours');
    const replica = await deployment.replicaOf(master);

    const resume = await isolateReplica(master, replica);
    let refused: unknown;
    let lost: { token: string } | undefined;
    try {
      const durable = { replicas: 1, timeout: 200 };
      refused = await store.issue('carol', { device: 'laptop', durable }).catch((err) => err);
      lost = await store.issue('carol', { device: 'tablet', durable: 0 });
      expect(await store.verify(lost.token)).to.not.equal(null);
      await master.kill();
    } finally {
      resume();
    }
    expect(refused).to.be.instanceOf(NotDurableError);

    await waitFor(
      'the replica to take over',
      async () => (await info(replica.port, 'replication')).role === 'master',
      { timeout: 20_000, interval: 50 },
    );
    await waitFor(
      'the store to answer again',
      async () => (await store.verify(kept.token)) !== null,
      {
        timeout: 10_000,
      },
    );
    // The token the master acknowledged alone is gone; the durable ones are all there.
    expect(await store.verify((lost as { token: string }).token)).to.equal(null);
    expect((await store.list('carol')).map((token) => token.device)).to.deep.equal(['phone']);
  });
});
