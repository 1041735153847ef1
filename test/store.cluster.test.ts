import { expect } from 'chai';
import { type Cluster, Redis } from 'ioredis';
import { storeContract } from './contract/store-contract.js';
import {
  clusterNodeFor,
  keySlot,
  query,
  type RedisClusterDeployment,
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

  storeContract({
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
  });
});
