import { expect } from 'chai';
import {
  RedisMultiTokenStrategy,
  type RedisMultiTokenStrategyOptions,
  type RedisMultiTokenStrategyOptionsWithRequest,
  TokenStore,
} from '../lib/index.js';
import { closeAll, testStore, track } from './helpers/index.js';
import { getMe, type LegacyApp, startLegacyApp } from './helpers/legacy-app.js';

type SwitchOptions =
  | Omit<RedisMultiTokenStrategyOptions, 'store'>
  | Omit<RedisMultiTokenStrategyOptionsWithRequest, 'store'>;

describe('migrating an app from passport-http-bearer', function () {
  this.timeout(30_000);
  let app: LegacyApp;
  let store: TokenStore;

  beforeEach(async () => {
    app = await startLegacyApp();
    store = testStore({ ttl: 3600, importedTokens: true });
  });

  afterEach(async () => {
    await app.close();
    await closeAll();
  });

  function switchTo(options: SwitchOptions = {}) {
    const strategy = new RedisMultiTokenStrategy({
      store,
      findUser: (userId: string) => app.users.get(userId) ?? false,
      ...options,
    } as RedisMultiTokenStrategyOptions);
    app.passport.use('bearer', strategy);
    return strategy;
  }

  it('logs no legacy client out while the strategy is switched under load', async () => {
    const tokens = Array.from({ length: 20 }, (_, n) => app.addLegacyClient(`u${n}`));
    for (const token of tokens) expect((await getMe(app, token)).status).to.equal(200);

    // Every client keeps calling while the app swaps passport-http-bearer for the store.
    const statuses: number[] = [];
    let strategy: RedisMultiTokenStrategy | undefined;
    const clients = tokens.map(async (token, n) => {
      for (let round = 0; round < 6; round++) {
        statuses.push((await getMe(app, token)).status);
        if (n === 0 && round === 2) {
          strategy = switchTo({ legacyVerify: app.legacyVerify, migrate: true });
        }
      }
    });
    await Promise.all(clients);

    expect(statuses).to.have.length(120);
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    expect(strategy?.migratedCount).to.equal(20);
    expect(strategy?.legacyCount).to.equal(20);
    for (let n = 0; n < 20; n++) expect(await store.list(`u${n}`)).to.have.length(1);
  });

  it('keeps imported tokens working once the legacy table and fallback are gone', async () => {
    const tokens = ['ann', 'ben', 'cy'].map((id) => app.addLegacyClient(id));
    switchTo({ legacyVerify: app.legacyVerify, migrate: true });
    const before = await Promise.all(tokens.map((token) => getMe(app, token)));

    app.table.clear();
    switchTo();
    const after = await Promise.all(tokens.map((token) => getMe(app, token)));

    expect(after.map((r) => r.status)).to.deep.equal([200, 200, 200]);
    expect(after.map((r) => r.body?.user.id)).to.deep.equal(['ann', 'ben', 'cy']);
    expect(after.map((r) => r.body?.tokenId)).to.deep.equal(before.map((r) => r.body?.tokenId));
  });

  it('refuses an imported token once revoked, although the legacy table still has it', async () => {
    const token = app.addLegacyClient('ann');
    const other = app.addLegacyClient('ann');
    switchTo({ legacyVerify: app.legacyVerify, migrate: true });
    const { body } = await getMe(app, token);
    await getMe(app, other);

    expect(await store.revokeById('ann', body?.tokenId as string)).to.equal(true);
    expect(app.table.has(token)).to.equal(true);
    expect((await getMe(app, token)).status).to.equal(401);
    expect((await getMe(app, other)).status).to.equal(200);
    expect(await store.list('ann')).to.have.length(1);

    // The same holds with a fallback that does not migrate.
    switchTo({ legacyVerify: app.legacyVerify });
    expect((await getMe(app, token)).status).to.equal(401);
  });

  it('serves bulk-imported tokens from Redis with the fallback on but never asked', async () => {
    const tokens = ['ann', 'ben'].map((id) => app.addLegacyClient(id));
    for (const [token, userId] of app.table) await store.import(userId, token);
    let asked = 0;
    const strategy = switchTo({
      legacyVerify: (token: string, done: (err: unknown, user?: unknown) => void) => {
        asked++;
        app.legacyVerify(token, done);
      },
    });

    for (const token of tokens) expect((await getMe(app, token)).status).to.equal(200);
    expect(asked).to.equal(0);
    expect(strategy.legacyCount).to.equal(0);
  });

  it('accepts legacy tokens without importing them when migrate is off', async () => {
    const token = app.addLegacyClient('ann');
    const events: unknown[] = [];
    store.on('legacy', (event) => events.push(event));
    const strategy = switchTo({ legacyVerify: app.legacyVerify });

    for (let i = 0; i < 3; i++) expect((await getMe(app, token)).status).to.equal(200);
    expect(strategy.legacyCount).to.equal(3);
    expect(strategy.migratedCount).to.equal(0);
    expect(events).to.deep.equal(Array(3).fill({ userId: 'ann', migrated: false, id: null }));
    expect(await store.list('ann')).to.deep.equal([]);
  });

  it('takes an async legacy verify that returns the user', async () => {
    const token = app.addLegacyClient('ann');
    const strategy = switchTo({
      legacyVerify: async (t: string) => app.users.get(app.table.get(t) ?? '') ?? null,
      migrate: { ttl: 60 },
    });

    const first = await getMe(app, token);
    expect(first.status).to.equal(200);
    expect((await getMe(app, 'not-a-known-token')).status).to.equal(401);
    const [listed] = await store.list('ann');
    expect(listed.id).to.equal(first.body?.tokenId);
    expect(listed.expiresAt?.getTime()).to.be.closeTo(Date.now() + 60_000, 5000);
    expect(strategy.migratedCount).to.equal(1);
  });

  it('fails the request with the error, not a 401, when the legacy verify errs', async () => {
    const token = app.addLegacyClient('ann');
    const failing = Object.assign(new Error('legacy database down'), { status: 503 });
    switchTo({ legacyVerify: (_t: string, done: (err: unknown) => void) => done(failing) });
    expect((await getMe(app, token)).status).to.equal(503);
    switchTo({
      legacyVerify: async () => {
        throw new Error('bug');
      },
    });
    expect((await getMe(app, token)).status).to.equal(500);
  });

  it('refuses migrate without legacyVerify, and a legacyVerify that is no function', () => {
    expect(() => new RedisMultiTokenStrategy({ store, migrate: true })).to.throw(TypeError);
    expect(() => new RedisMultiTokenStrategy({ store, legacyVerify: 'x' as never })).to.throw(
      /legacyVerify must be a function/,
    );
    expect(
      () => new RedisMultiTokenStrategy({ store, legacyVerify: () => null, migrate: { ttl: 0 } }),
    ).to.throw(RangeError);
    const plain = testStore({ importedTokens: false });
    expect(
      () => new RedisMultiTokenStrategy({ store: plain, legacyVerify: () => null, migrate: true }),
    ).to.throw(/importedTokens/);
  });

  it('accepts but does not import a legacy user without a usable id', async () => {
    const token = app.addLegacyClient('ann');
    const strategy = switchTo({
      legacyVerify: async () => ({ name: 'no id here' }),
      migrate: true,
    });
    expect((await getMe(app, token)).status).to.equal(200);
    expect(strategy.legacyCount).to.equal(1);
    expect(strategy.migratedCount).to.equal(0);
  });

  it('imports under the id legacyUserId reads, keeping the legacy scope', async () => {
    const token = app.addLegacyClient('ann');
    switchTo({
      legacyVerify: (_t: string, done: (err: unknown, user?: unknown, info?: unknown) => void) =>
        done(null, { userId: 'ann' }, { scope: 'read write' }),
      legacyUserId: (user) => (user as { userId: string }).userId,
      migrate: true,
    });
    expect((await getMe(app, token)).status).to.equal(200);
    const [listed] = await store.list('ann');
    expect(listed.scope).to.deep.equal(['read', 'write']);
  });

  it('passes the request first to both functions with passReqToCallback', async () => {
    const token = app.addLegacyClient('ann');
    const seen: string[] = [];
    switchTo({
      passReqToCallback: true,
      findUser: (req: { headers: Record<string, unknown> }, userId: string) => {
        seen.push(`findUser ${typeof req.headers} ${userId}`);
        return app.users.get(userId);
      },
      legacyVerify: (
        req: { headers: Record<string, unknown> },
        t: string,
        done: (err: unknown, user?: unknown) => void,
      ) => {
        seen.push(`legacy ${typeof req.headers}`);
        app.legacyVerify(t, done);
      },
      migrate: true,
    });

    expect((await getMe(app, token)).status).to.equal(200);
    expect((await getMe(app, token)).status).to.equal(200);
    expect(seen).to.deep.equal(['legacy object', 'findUser object ann']);
  });

  it('fails closed with 503 and asks no legacy verify while Redis does not answer', async () => {
    const token = app.addLegacyClient('ann');
    let asked = 0;
    const down = track(
      new TokenStore({ redis: 'redis://127.0.0.1:1', timeout: 300, importedTokens: true }),
    );
    app.passport.use(
      'bearer',
      new RedisMultiTokenStrategy({
        store: down,
        legacyVerify: async () => {
          asked++;
          return { id: 'ann' };
        },
        migrate: true,
      }),
    );

    expect((await getMe(app, token)).status).to.equal(503);
    expect(asked).to.equal(0);
  });

  it('sends its own tokens never to the legacy verify', async () => {
    let asked = 0;
    switchTo({
      legacyVerify: async () => {
        asked++;
        return { id: 'mallory' };
      },
    });
    const issued = await store.issue('ann');
    await store.revoke(issued.token);

    expect((await getMe(app, issued.token)).status).to.equal(401);
    expect(asked).to.equal(0);
  });
});
