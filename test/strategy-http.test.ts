import type { Server } from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import {
  RedisMultiTokenStrategy,
  type RedisMultiTokenStrategyOptions,
  type RedisMultiTokenStrategyOptionsWithRequest,
  TokenStore,
} from '../lib/index.js';
import { expressApp, koaApp } from './helpers/apps.js';
import { startRedisServer, testRedisUrl, uniquePrefix, waitFor } from './helpers/index.js';

type Agent = ReturnType<typeof request>;

const frameworks = [
  { name: 'Express 5', build: (s: RedisMultiTokenStrategy) => expressApp(s) as unknown as Server },
  {
    name: 'Koa 3',
    build: (s: RedisMultiTokenStrategy) => koaApp(s).callback() as unknown as Server,
  },
];

for (const framework of frameworks) {
  describe(`RedisMultiTokenStrategy in ${framework.name}`, () => {
    const strategies: RedisMultiTokenStrategy[] = [];

    function app(
      options: RedisMultiTokenStrategyOptions | RedisMultiTokenStrategyOptionsWithRequest = {},
    ): Agent {
      const strategy = new RedisMultiTokenStrategy({
        redis: testRedisUrl(),
        keyPrefix: uniquePrefix(),
        ...options,
      } as RedisMultiTokenStrategyOptions);
      strategies.push(strategy);
      return request(framework.build(strategy));
    }

    async function login(agent: Agent, user: string, device?: string, scope?: string[]) {
      const res = await agent.post('/login').send({ user, device, scope }).expect(201);
      return res.body as { token: string; id: string; first: boolean };
    }

    afterEach(async () => {
      await Promise.all(strategies.splice(0).map((s) => s.store.close()));
    });

    it('signs a user in on several devices at once', async () => {
      const agent = app();
      const phone = await login(agent, 'alice', 'phone');
      const laptop = await login(agent, 'alice', 'laptop');
      expect(phone.first).to.equal(true);
      expect(laptop.first).to.equal(false);

      for (const [issued, device] of [
        [phone, 'phone'],
        [laptop, 'laptop'],
      ] as const) {
        const res = await agent.get('/me').auth(issued.token, { type: 'bearer' }).expect(200);
        expect(res.body.user).to.deep.equal({ id: 'alice' });
        expect(res.body.authInfo.id).to.equal(issued.id);
        expect(res.body.authInfo.device).to.equal(device);
      }
      const devices = await agent.get('/devices').auth(phone.token, { type: 'bearer' }).expect(200);
      expect(devices.body.map((t: { device: string }) => t.device)).to.have.members([
        'phone',
        'laptop',
      ]);
    });

    it('logs out one device and leaves the others signed in', async () => {
      const agent = app();
      const phone = await login(agent, 'alice', 'phone');
      const laptop = await login(agent, 'alice', 'laptop');

      await agent.post('/logout').auth(phone.token, { type: 'bearer' }).expect(204);
      await agent.get('/me').auth(phone.token, { type: 'bearer' }).expect(401);
      await agent.get('/me').auth(laptop.token, { type: 'bearer' }).expect(200);
    });

    it('logs out everywhere', async () => {
      const agent = app();
      const tokens = [await login(agent, 'alice', 'a'), await login(agent, 'alice', 'b')];
      const bob = await login(agent, 'bob', 'a');

      const res = await agent.post('/logout-all').auth(tokens[0].token, { type: 'bearer' });
      expect(res.body).to.deep.equal({ revoked: 2 });
      for (const { token } of tokens) {
        await agent.get('/me').auth(token, { type: 'bearer' }).expect(401);
      }
      await agent.get('/me').auth(bob.token, { type: 'bearer' }).expect(200);
    });

    it('logs out the other devices and keeps the current one', async () => {
      const agent = app();
      const current = await login(agent, 'alice', 'phone');
      const other = await login(agent, 'alice', 'laptop');

      const res = await agent.post('/logout-others').auth(current.token, { type: 'bearer' });
      expect(res.body).to.deep.equal({ revoked: 1 });
      await agent.get('/me').auth(current.token, { type: 'bearer' }).expect(200);
      await agent.get('/me').auth(other.token, { type: 'bearer' }).expect(401);
    });

    it('replaces the token of a device that logs in again', async () => {
      const agent = app();
      const old = await login(agent, 'alice', 'phone');
      const fresh = await login(agent, 'alice', 'phone');
      await agent.get('/me').auth(old.token, { type: 'bearer' }).expect(401);
      await agent.get('/me').auth(fresh.token, { type: 'bearer' }).expect(200);
    });

    it('turns a token away once it has expired', async () => {
      const agent = app({ ttl: 1 });
      const issued = await login(agent, 'alice');
      await agent.get('/me').auth(issued.token, { type: 'bearer' }).expect(200);
      await waitFor(
        'the token to expire',
        async () => (await agent.get('/me').auth(issued.token, { type: 'bearer' })).status === 401,
        { timeout: 5000, interval: 100 },
      );
    });

    it('answers malformed, unknown, expired and revoked tokens with one and the same 401', async () => {
      const agent = app({ ttl: 1 });
      const revoked = await login(agent, 'alice', 'a');
      const expired = await login(agent, 'alice', 'b');
      await agent.post('/logout').auth(revoked.token, { type: 'bearer' }).expect(204);
      await waitFor(
        'the token to expire',
        async () => (await agent.get('/me').auth(expired.token, { type: 'bearer' })).status === 401,
        { timeout: 5000, interval: 100 },
      );
      const unknown = `${revoked.token.slice(0, 20)}${'x'.repeat(revoked.token.length - 20)}`;
      const forged = await login(app(), 'alice');

      const answers = [];
      for (const token of ['garbage', unknown, forged.token, expired.token, revoked.token]) {
        const res = await agent.get('/me').auth(token, { type: 'bearer' });
        answers.push({
          status: res.status,
          challenge: res.headers['www-authenticate'],
          body: res.text,
        });
      }
      expect(answers[0]).to.deep.include({
        status: 401,
        challenge: 'Bearer realm="Users", error="invalid_token"',
      });
      for (const answer of answers) expect(answer).to.deep.equal(answers[0]);
    });

    it('asks for a token with a bare challenge when none was sent', async () => {
      const res = await app().get('/me').expect(401);
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="Users"');
    });

    it('answers 400 to a malformed header or two tokens at once', async () => {
      const agent = app();
      const issued = await login(agent, 'alice');
      await agent.get('/me').set('Authorization', `Bearer  ${issued.token}`).expect(400);
      await agent.get('/me').set('Authorization', `Bearer ${issued.token} x`).expect(400);
      await agent
        .get(`/me?access_token=${issued.token}`)
        .auth(issued.token, { type: 'bearer' })
        .expect(400);
    });

    it('accepts the token from the query string unless tokenSources leaves it out', async () => {
      const open = app();
      const issued = await login(open, 'alice');
      await open.get(`/me?access_token=${issued.token}`).expect(200);

      const strict = app({ tokenSources: ['header'] });
      const other = await login(strict, 'alice');
      const res = await strict.get(`/me?access_token=${other.token}`).expect(401);
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="Users"');
      await strict.get('/me').auth(other.token, { type: 'bearer' }).expect(200);
    });

    it('answers 403 insufficient_scope when the token lacks a scope', async () => {
      const agent = app();
      const reader = await login(agent, 'alice', 'a', ['read']);
      await agent.get('/notes').auth(reader.token, { type: 'bearer' }).expect(200);
      const res = await agent.post('/notes').auth(reader.token, { type: 'bearer' }).expect(403);
      expect(res.headers['www-authenticate']).to.equal(
        'Bearer realm="Users", scope="write", error="insufficient_scope"',
      );
      const writer = await login(agent, 'alice', 'b', ['read', 'write']);
      await agent.post('/notes').auth(writer.token, { type: 'bearer' }).expect(201);
    });

    it('puts the user from findUser in req.user and rejects when it returns null', async () => {
      const agent = app({
        findUser: async (userId: string) =>
          userId === 'banned' ? null : { id: userId, role: 'x' },
      });
      const ok = await login(agent, 'alice');
      const banned = await login(agent, 'banned');
      const res = await agent.get('/me').auth(ok.token, { type: 'bearer' }).expect(200);
      expect(res.body.user).to.deep.equal({ id: 'alice', role: 'x' });
      await agent.get('/me').auth(banned.token, { type: 'bearer' }).expect(401);
    });

    it('passes the request to findUser with passReqToCallback', async () => {
      const agent = app({
        passReqToCallback: true,
        findUser: (req, userId, info) => ({
          id: userId,
          agent: req.headers['user-agent'],
          via: info.id,
        }),
      });
      const issued = await login(agent, 'alice');
      const res = await agent
        .get('/me')
        .auth(issued.token, { type: 'bearer' })
        .set('User-Agent', 'Probe/2')
        .expect(200);
      expect(res.body.user).to.deep.equal({ id: 'alice', agent: 'Probe/2', via: issued.id });
    });

    it('records the client address and user agent of the last use when asked', async () => {
      const agent = app({ trackRequestMeta: true, touchInterval: 0 });
      const issued = await login(agent, 'alice');
      await agent
        .get('/me')
        .auth(issued.token, { type: 'bearer' })
        .set('User-Agent', 'TestBrowser/1.0')
        .expect(200);
      const res = await agent.get('/devices').auth(issued.token, { type: 'bearer' }).expect(200);
      expect(res.body[0].lastUserAgent).to.equal('TestBrowser/1.0');
      expect(res.body[0].lastIp).to.match(/127\.0\.0\.1/);
    });
  });
}

describe('RedisMultiTokenStrategy when Redis is down', () => {
  for (const framework of frameworks) {
    it(`answers 503 within the timeout in ${framework.name}, and recovers by itself`, async function () {
      this.timeout(30_000);
      const server = await startRedisServer();
      const strategy = new RedisMultiTokenStrategy({ redis: server.url, timeout: 500 });
      try {
        const agent = request(framework.build(strategy));
        const { token } = await strategy.store.issue('alice');
        await agent.get('/me').auth(token, { type: 'bearer' }).expect(200);

        await server.stop();
        const started = Date.now();
        const res = await agent.get('/me').auth(token, { type: 'bearer' });
        expect(res.status).to.equal(503);
        expect(Date.now() - started).to.be.lessThan(1500);
        expect(res.text).to.not.include(token);

        const again = await startRedisServer([], server.port);
        try {
          const back = Date.now();
          const { token: fresh } = await strategy.store.issue('alice').catch(async () => {
            await waitFor('the store to reconnect', async () => {
              return (await agent.get('/me').auth('x', { type: 'bearer' })).status === 401;
            });
            return strategy.store.issue('alice');
          });
          await waitFor('requests to succeed again', async () => {
            return (await agent.get('/me').auth(fresh, { type: 'bearer' })).status === 200;
          });
          expect(Date.now() - back).to.be.lessThan(2000);
        } finally {
          await again.stop();
        }
      } finally {
        await strategy.store.close();
      }
    });
  }
});

describe('RedisMultiTokenStrategy construction', () => {
  it('works with no arguments, on REDIS_URL, under the name bearer', async () => {
    const strategy = new RedisMultiTokenStrategy();
    try {
      expect(strategy.name).to.equal('bearer');
      expect(strategy.store).to.be.instanceOf(TokenStore);
      const { token } = await strategy.store.issue('alice');
      expect((await strategy.store.verify(token))?.userId).to.equal('alice');
    } finally {
      await strategy.store.close();
    }
  });

  it('refuses store options beside a store, and options of the wrong type', () => {
    const store = new TokenStore({ redis: testRedisUrl() });
    try {
      expect(() => new RedisMultiTokenStrategy({ store, ttl: 5 })).to.throw(TypeError, /ttl/);
      expect(() => new RedisMultiTokenStrategy({ findUser: 'x' as never })).to.throw(TypeError);
      expect(() => new RedisMultiTokenStrategy({ tokenSources: ['cookie' as never] })).to.throw(
        RangeError,
      );
    } finally {
      void store.close();
    }
  });
});
