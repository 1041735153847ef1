import { expect } from 'chai';
import { type Cluster, Redis } from 'ioredis';
import { NotDurableError, TokenStore } from '../lib/index.js';
import { userTag } from '../lib/token-format.js';
import { importContract } from './contract/import-contract.js';
import { type ContractTarget, storeContract } from './contract/store-contract.js';
import {
  clusterNodeFor,
  keySlot,
  query,
  type RedisClusterDeployment,
  type RedisServer,
  startRedisCluster,
} from './helpers/index.js';

describe('on a Redis Cluster of three masters with one replica each', function () {
  this.timeout(60_000);
  let cluster: RedisClusterDeployment | undefined;

  before(async () => {
    cluster = await startRedisCluster();
  });

  after(async () => {
    await cluster?.stop();
  });

  it('maps keys to slots as the cluster itself does', async () => {
    const port = (cluster as RedisClusterDeployment).servers[0].port;
    for (const key of ['mt:{0aZ9}:u:alice', 'mt:{zzzz}:t:0123456789', 'plain', 'a{}b{c}']) {
      expect(keySlot(key), key).to.equal(Number(await query(port, 'CLUSTER', 'KEYSLOT', key)));
    }
  });

  it('sends a durable write again to the right master after a MOVED', async () => {
    const client = (cluster as RedisClusterDeployment).connect();
    const store = new TokenStore({ redis: client, durable: 1 });
    try {
      await store.issue('dave');
      // Make the client's slot table point the user's slot at another master.
      const slot = keySlot(`{${userTag('dave')}}`);
      const owner = client.slots[slot][0];
      const other = client
        .nodes('master')
        .map((node) => `${node.options.host}:${node.options.port}`)
        .find((key) => key !== owner);
      client.slots[slot] = [other as string];

      const issued = await store.issue('dave', { device: 'laptop' });
      expect(client.slots[slot][0]).to.equal(owner);
      expect((await store.verify(issued.token))?.device).to.equal('laptop');

      // WAIT must count the owner's replica, not the other master's: with the owner's replica
      // frozen, the redirected write is not durable even though the other master's replica is.
      const deployment = cluster as RedisClusterDeployment;
      const ownerServer = deployment.servers.find((server) => owner.endsWith(`:${server.port}`));
      const replica = await deployment.replicaOf(ownerServer as RedisServer);
      client.slots[slot] = [other as string];
      replica.pause();
      let failed: unknown;
      try {
        const durable = { replicas: 1, timeout: 200 };
        failed = await store.issue('dave', { device: 'tablet', durable }).catch((err) => err);
      } finally {
        replica.resume();
      }
      expect(failed).to.be.instanceOf(NotDurableError);
    } finally {
      await store.close();
      client.disconnect();
    }
  });

  const target: ContractTarget = {
    name: 'a Redis Cluster',
    connect: () => (cluster as RedisClusterDeployment).connect(),
    nodeFor: (client, key) => clusterNodeFor(client as Cluster, key),
    replicas: 1,
    async replicaFor(client, key) {
      const deployment = cluster as RedisClusterDeployment;
      const master = await clusterNodeFor(client as Cluster, key);
      const server = deployment.servers.find((s) => s.port === master.options.port);
      if (server === undefined) throw new Error(`no server on port ${master.options.port}`);
      const replica = new Redis((await deployment.replicaOf(server)).port, '127.0.0.1');
      // A cluster replica answers reads only on a connection that asked for READONLY.
      await replica.readonly();
      return replica;
    },
  };
  storeContract(target);
  importContract(target);
});
