import { Redis } from 'ioredis';
import { storeContract } from './contract/store-contract.js';
import { type SentinelDeployment, startSentinelDeployment } from './helpers/index.js';

describe('on a master and a replica watched by three Sentinels', function () {
  this.timeout(60_000);
  let deployment: SentinelDeployment | undefined;

  before(async () => {
    deployment = await startSentinelDeployment();
  });

  after(async () => {
    await deployment?.stop();
  });

  storeContract({
    name: 'a Sentinel set-up',
    connect: () => (deployment as SentinelDeployment).connect(),
    nodeFor: async (client) => client as Redis,
    replicas: 1,
    async replicaFor() {
      const sentinel = deployment as SentinelDeployment;
      const master = await sentinel.master();
      const replica = sentinel.servers.find((server) => server !== master);
      if (replica === undefined) throw new Error('the Sentinel set-up has no replica');
      return new Redis(replica.port, '127.0.0.1');
    },
  });
});
