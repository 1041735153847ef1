import { buildNestApp } from '../examples/nest-app.js';
import { frameworkContract } from './contract/framework-contract.js';
import { restoreConnectFramework } from './helpers/global-passport.js';

frameworkContract('NestJS (@nestjs/passport)', async (store) => {
  restoreConnectFramework();
  const app = await buildNestApp(store);
  await app.listen(0, '127.0.0.1');
  return { url: (await app.getUrl()).replace('[::1]', '127.0.0.1'), close: () => app.close() };
});
