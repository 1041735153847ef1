import { expect } from 'chai';
import createDebug from 'debug';
import {
  TokenLimitError,
  TokenStore,
  TokenStoreError,
  type TokenStoreEvents,
} from '../lib/index.js';
import {
  closeAll,
  keysUnder,
  rawClient,
  testRedisUrl,
  testStore,
  uniquePrefix,
  waitFor,
} from './helpers/index.js';

/** Counts the keys matching ARGV[1] in one atomic pass. */
const ATOMIC_COUNT = `
local cursor, count = '0', 0
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor, count = page[1], count + #page[2]
until cursor == '0'
return count`;

/** Waits until `ms` milliseconds have passed since `since`: the elapsed time is what is tested. */
async function until(since: number, ms: number): Promise<void> {
  await waitFor(`${ms} ms to pass`, () => Date.now() - since >= ms, {
    interval: 10,
    timeout: ms + 5000,
  });
}

describe('token policies', function () {
  this.timeout(20_000);
  let raw: ReturnType<typeof rawClient>;
  before(() => {
    raw = rawClient();
  });
  after(() => raw.quit());
  afterEach(closeAll);

  describe('sliding expiry', () => {
    it('pushes the expiry out only once per touchInterval', async () => {
      const store = testStore({ ttl: 5, slidingTtl: true, touchInterval: 1 });
      const issued = await store.issue('alice');
      const first = await store.verify(issued.token);
      const again = await store.verify(issued.token);
      expect(again?.expiresAt?.getTime()).to.be.closeTo(first?.expiresAt?.getTime() ?? 0, 50);
      expect(again?.lastUsedAt.getTime()).to.equal(first?.lastUsedAt.getTime());

      await until(first?.lastUsedAt.getTime() ?? 0, 1100);
      const later = await store.verify(issued.token);
      expect(later?.lastUsedAt.getTime()).to.be.greaterThan(first?.lastUsedAt.getTime() ?? 0);
      expect(later?.expiresAt?.getTime()).to.be.closeTo(Date.now() + 5000, 300);
      expect(later?.expiresAt?.getTime()).to.be.greaterThan(
        (first?.expiresAt?.getTime() ?? 0) + 900,
      );
    });

    it('updates lastUsedAt but not the expiry when sliding is off', async () => {
      const store = testStore({ ttl: 5, touchInterval: 1 });
      const issued = await store.issue('alice');
      await until(Date.now(), 1100);
      const later = await store.verify(issued.token);
      expect(later?.lastUsedAt.getTime()).to.be.closeTo(Date.now(), 300);
      expect(later?.expiresAt?.getTime()).to.be.closeTo(issued.expiresAt?.getTime() ?? 0, 50);
    });

    it('caps a token at maxLifetime however often it is used', async () => {
      const store = testStore({ ttl: 60, slidingTtl: true, touchInterval: 0, maxLifetime: 2 });
      const issued = await store.issue('alice');
      const created = Date.now();
      expect(issued.expiresAt?.getTime()).to.be.closeTo(created + 2000, 200);

      let alive = true;
      while (alive) {
        const info = await store.verify(issued.token);
        alive = info !== null;
        if (info) expect(info.expiresAt?.getTime()).to.be.at.most(info.createdAt.getTime() + 2000);
        if (alive) await until(Date.now(), 100);
      }
      expect(Date.now() - created).to.be.within(1700, 4000);
      expect(await store.list('alice')).to.deep.equal([]);
    });
  });

  describe('device limit', () => {
    it('evicts the least recently used token at maxTokensPerUser', async () => {
      const store = testStore({ maxTokensPerUser: 3, touchInterval: 0 });
      const tokens = [];
      for (const device of ['a', 'b', 'c']) {
        tokens.push(await store.issue('alice', { device }));
        const at = Date.now();
        await until(at, 3);
      }
      await store.verify(tokens[0].token);
      const revoked: TokenStoreEvents['revoked'][0][] = [];
      store.on('revoked', (event) => revoked.push(event));

      const fourth = await store.issue('alice', { device: 'd' });
      expect(await store.verify(tokens[1].token)).to.equal(null);
      for (const t of [tokens[0], tokens[2], fourth])
        expect(await store.verify(t.token)).to.not.equal(null);
      expect(revoked).to.deep.equal([{ id: tokens[1].id, userId: 'alice', reason: 'limit' }]);
    });

    it('never lets 1,000 concurrent logins of one user exceed the limit', async () => {
      const store = testStore({ maxTokensPerUser: 5 });
      // SCAN from the client is no snapshot; run inside a script, it counts atomically.
      const countRecords = async () =>
        Number(await raw.eval(ATOMIC_COUNT, 0, `${store.keyPrefix}{*}:t:*`));
      const seen: number[] = [];
      let storming = true;
      const watcher = (async () => {
        while (storming) seen.push(await countRecords());
      })();
      // A list every 50 logins rides the same connection, so Redis runs it mid-storm.
      const calls = Array.from({ length: 1000 }, (_, n) =>
        n % 50 === 25
          ? Promise.all([
              store.issue('alice'),
              store.list('alice').then((l) => seen.push(l.length)),
            ])
          : store.issue('alice'),
      );
      const issued = await Promise.all(calls);
      storming = false;
      await watcher;

      expect(issued).to.have.length(1000);
      expect(seen.length, 'looks taken during the storm').to.be.at.least(21);
      expect(Math.max(...seen)).to.be.at.most(5);
      expect(await countRecords()).to.equal(5);
      expect(await store.list('alice')).to.have.length(5);
      const tokens = issued.map((result) => (Array.isArray(result) ? result[0] : result));
      const live = (await Promise.all(tokens.map((t) => store.verify(t.token)))).filter(Boolean);
      expect(live).to.have.length(5);
    });

    it("rejects with ERR_TOKEN_LIMIT and writes nothing when onLimit is 'reject'", async () => {
      const store = testStore({ maxTokensPerUser: 2, onLimit: 'reject' });
      await store.issue('alice', { device: 'a' });
      await store.issue('alice', { device: 'b' });
      const before = await keysUnder(raw, store.keyPrefix);

      const err = await store.issue('alice', { device: 'c' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TokenLimitError);
      expect(err).to.be.instanceOf(TokenStoreError);
      expect((err as TokenLimitError).code).to.equal('ERR_TOKEN_LIMIT');
      expect(await keysUnder(raw, store.keyPrefix)).to.deep.equal(before);

      const again = await store.issue('alice', { device: 'a' });
      expect(await store.verify(again.token)).to.not.equal(null);
    });

    it('stays race-free with 1,000 concurrent rejects at the limit', async () => {
      const store = testStore({ maxTokensPerUser: 3, onLimit: 'reject' });
      const results = await Promise.allSettled(
        Array.from({ length: 1000 }, () => store.issue('bob')),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(3);
      const failures = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(failures.every((r) => r.reason instanceof TokenLimitError)).to.equal(true);
      expect(await store.list('bob')).to.have.length(3);
    });
  });

  describe('scopes', () => {
    it('keeps the scopes granted at issue in TokenInfo.scope', async () => {
      const store = testStore();
      const issued = await store.issue('alice', { scope: ['read', 'write', 'read'] });
      expect((await store.verify(issued.token))?.scope).to.deep.equal(['read', 'write']);
      expect((await store.list('alice'))[0].scope).to.deep.equal(['read', 'write']);
      const plain = await store.issue('bob');
      expect((await store.verify(plain.token))?.scope).to.deep.equal([]);
    });
  });

  describe('server key (secret)', () => {
    const k1 = 'first-server-key-0123456789abcdef';
    const k2 = 'second-server-key-0123456789abcdef';

    it('stores an HMAC that the plain hash of the token does not match', async () => {
      const keyPrefix = uniquePrefix();
      const keyed = testStore({ keyPrefix, secret: k1 });
      const plain = testStore({ keyPrefix });
      const issued = await keyed.issue('alice');
      expect(await keyed.verify(issued.token)).to.not.equal(null);
      expect(await plain.verify(issued.token)).to.equal(null);
    });

    it('keeps tokens of an older key verifying after a rotation, with no logout', async () => {
      const keyPrefix = uniquePrefix();
      const before = testStore({ keyPrefix, secret: k1 });
      const used = await before.issue('alice', { device: 'used' });
      const idle = await before.issue('alice', { device: 'idle' });

      const rotated = testStore({ keyPrefix, secret: [k2, k1] });
      const fresh = await rotated.issue('alice', { device: 'fresh' });
      expect(await rotated.verify(used.token)).to.not.equal(null);
      expect(await rotated.verify(fresh.token)).to.not.equal(null);
      expect(await before.verify(idle.token)).to.not.equal(null);
      expect(await before.verify(fresh.token)).to.equal(null);

      // Once k1 is dropped, a token used since the rotation was rehashed under k2 and lives
      // on; one nobody presented to a server holding k2 stays bound to the dropped key.
      const after = testStore({ keyPrefix, secret: [k2] });
      expect(await after.verify(used.token)).to.not.equal(null);
      expect(await after.verify(fresh.token)).to.not.equal(null);
      expect(await after.verify(idle.token)).to.equal(null);
    });

    it('refuses a key shorter than 16 bytes', () => {
      expect(() => new TokenStore({ redis: testRedisUrl(), secret: 'short' })).to.throw(RangeError);
    });
  });

  describe('audit events', () => {
    it('emits issued, verified, rejected and revoked with reasons, never with a token', async () => {
      const store = testStore({ maxTokensPerUser: 2 });
      const events: Array<[string, unknown]> = [];
      for (const name of ['issued', 'verified', 'rejected', 'revoked'] as const) {
        store.on(name, (event: unknown) => events.push([name, event]));
      }

      const a = await store.issue('alice', { device: 'a' });
      const b = await store.issue('alice', { device: 'b' });
      await until(Date.now(), 3);
      const a2 = await store.issue('alice', { device: 'a' });
      await store.issue('alice', { device: 'c' });
      await store.verify(a2.token);
      await store.verify('not a token');
      await store.verify(a.token);
      const d = await store.issue('carol');
      const e = await store.issue('carol');
      await store.revokeOthers('carol', d.id);
      await store.revoke(d.token);
      await store.issue('dave');
      await store.revokeAll('dave');

      const reasons = events
        .filter(([n]) => n === 'revoked')
        .map(([, e]) => (e as { reason: string }).reason);
      expect(reasons).to.deep.equal(['replaced', 'limit', 'logout-others', 'logout', 'logout-all']);
      const limited = events.find(
        ([n, ev]) => n === 'revoked' && (ev as { reason: string }).reason === 'limit',
      );
      expect(limited?.[1]).to.deep.equal({ id: b.id, userId: 'alice', reason: 'limit' });
      const rejected = events.filter(([n]) => n === 'rejected').map(([, ev]) => ev);
      expect(rejected).to.deep.equal([
        { reason: 'malformed', id: null },
        { reason: 'unknown', id: a.id },
      ]);
      expect(events.filter(([n]) => n === 'issued')).to.have.length(7);
      expect(events.find(([n]) => n === 'verified')?.[1]).to.deep.equal({
        id: a2.id,
        userId: 'alice',
      });

      const text = JSON.stringify(events);
      for (const t of [a, b, a2, d, e]) expect(text).to.not.include(t.token.slice(17, 40));
    });

    it('prints what it does under DEBUG without ever printing a token', async () => {
      const lines: string[] = [];
      const previous = createDebug.log;
      createDebug.log = (...args: unknown[]) => lines.push(args.map(String).join(' '));
      createDebug.enable('passport-redis-multitokens:*');
      try {
        const store = testStore();
        const issued = await store.issue('alice', { device: 'phone' });
        await store.verify(issued.token);
        await store.revoke(issued.token);
        expect(lines.some((line) => line.includes('issued'))).to.equal(true);
        expect(lines.some((line) => line.includes('revoked'))).to.equal(true);
        for (const line of lines) expect(line).to.not.include(issued.token.slice(17, 40));
      } finally {
        createDebug.disable();
        createDebug.log = previous;
      }
    });
  });

  describe('ownership', () => {
    it('keeps a store from closing a connection it was given', async () => {
      const client = rawClient();
      try {
        const store = new TokenStore({ redis: client, keyPrefix: uniquePrefix() });
        await store.close();
        expect(await client.ping()).to.equal('PONG');
        const err = await store.verify('x').catch((e: unknown) => e);
        expect((err as TokenStoreError).code).to.equal('ERR_STORE_CLOSED');
      } finally {
        await client.quit();
      }
    });

    it('closes the connection it made itself', async () => {
      const store = new TokenStore({ redis: testRedisUrl() });
      await store.close();
      await waitFor('the connection to end', () => store.redis.status === 'end');
      expect(store.redis.status).to.equal('end');
    });
  });
});
