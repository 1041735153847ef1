import { expect } from 'chai';
import express from 'express';
import passport from 'passport';
import request from 'supertest';
import { RedisMultiTokenStrategy } from '../lib/index.js';
import { cachedTestStore, closeAll, testStore } from './helpers/index.js';

/** An Express app whose one route passport guards with the given strategy. */
function appWith(strategy: RedisMultiTokenStrategy): express.Express {
  const auth = new passport.Passport();
  auth.use(strategy);
  const app = express();
  app.get('/me', auth.authenticate('bearer', { session: false }), (req, res) => {
    res.json(req.user);
  });
  return app;
}

describe('RedisMultiTokenStrategy through passport.authenticate', () => {
  afterEach(closeAll);

  it('lets a valid token through and answers 401 without one', async () => {
    const store = testStore();
    const { token } = await store.issue('alice');
    const app = appWith(new RedisMultiTokenStrategy({ store }));

    const ok = await request(app).get('/me').set('authorization', `Bearer ${token}`);
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.equal({ id: 'alice' });
    expect((await request(app).get('/me')).status).to.equal(401);
    const forged = `${token.slice(0, -1)}x`;
    expect(
      (await request(app).get('/me').set('authorization', `Bearer ${forged}`)).status,
    ).to.equal(401);
  });

  it('turns a token away once it is revoked, with the cache on', async () => {
    const store = await cachedTestStore();
    const { token } = await store.issue('alice');
    const app = appWith(new RedisMultiTokenStrategy({ store }));
    const bearer = `Bearer ${token}`;
    expect((await request(app).get('/me').set('authorization', bearer)).status).to.equal(200);
    expect((await request(app).get('/me').set('authorization', bearer)).status).to.equal(200);
    await store.revoke(token);
    expect((await request(app).get('/me').set('authorization', bearer)).status).to.equal(401);
  });
});
