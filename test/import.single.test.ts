import type { Redis } from 'ioredis';
import { importContract } from './contract/import-contract.js';
import { rawClient } from './helpers/index.js';

importContract({
  name: 'a single redis-server',
  connect: () => rawClient(),
  nodeFor: async (client) => client as Redis,
  replicas: 0,
});
