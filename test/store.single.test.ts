import type { Redis } from 'ioredis';
import { storeContract } from './contract/store-contract.js';
import { rawClient } from './helpers/index.js';

storeContract({
  name: 'a single redis-server',
  connect: () => rawClient(),
  nodeFor: async (client) => client as Redis,
  replicas: 0,
});
