import { buildFastifyApp } from '../examples/fastify-app.js';
import { frameworkContract } from './contract/framework-contract.js';

frameworkContract('Fastify (@fastify/passport)', async (store) => {
  const app = await buildFastifyApp(store);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
});
