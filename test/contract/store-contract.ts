import { expect } from 'chai';
import type { Command, Redis } from 'ioredis';
import sinon from 'sinon';
import {
  NotDurableError,
  type RedisConnection,
  TokenStore,
  type TokenStoreOptions,
} from '../../lib/index.js';
import { keySlot, uniquePrefix, waitFor } from '../helpers/index.js';

/**
 * A Redis deployment the store contract runs against: a single server, a Cluster or a
 * Sentinel set-up. `connect` returns a new client the suite closes itself.
 */
export interface ContractTarget {
  name: string;
  connect(): RedisConnection;
  /** A plain client of the node that holds `key`, to look at raw keys. */
  nodeFor(client: RedisConnection, key: string): Promise<Redis>;
  /** How many replicas each master of the target has. */
  replicas: number;
  /**
   * A new client, closed by the suite, of a replica of the node that holds `key`; only on
   * targets with replicas.
   */
  replicaFor?(client: RedisConnection, key: string): Promise<Redis>;
}

/** Scans every node of the connection for keys under a prefix. */
export async function allKeys(client: RedisConnection, prefix: string): Promise<string[]> {
  const nodes =
    'nodes' in client && typeof client.nodes === 'function' && client.isCluster
      ? client.nodes('master')
      : [client as Redis];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys.sort();
}

/** The cluster hash tag of a key: what stands between its first `{` and the next `}`. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return key.slice(open + 1, close);
}

/**
 * Stores of a contract suite, each on a client of its own and under a key prefix of its own,
 * closed after each test (and sinon restored). Call it inside a `describe`.
 */
export function targetStores(target: ContractTarget, defaults: TokenStoreOptions = {}) {
  let clients: Array<{ quit(): Promise<unknown> }> = [];
  let stores: TokenStore[] = [];

  afterEach(async () => {
    sinon.restore();
    await Promise.all(stores.map((store) => store.close()));
    await Promise.all(clients.map((client) => client.quit().catch(() => {})));
    clients = [];
    stores = [];
  });

  return {
    makeStore(options: TokenStoreOptions = {}, keyPrefix = uniquePrefix()): TokenStore {
      const client = target.connect();
      clients.push(client);
      const store = new TokenStore({ redis: client, keyPrefix, ...defaults, ...options });
      stores.push(store);
      return store;
    },
    /** Closes an extra client (a replica connection, say) with the stores. */
    trackClient<T extends { quit(): Promise<unknown> }>(client: T): T {
      clients.push(client);
      return client;
    },
  };
}

/**
 * The promises of the package issue, for one target. Each test gets a store with a key
 * prefix of its own, on a client of its own.
 */
export function storeContract(target: ContractTarget): void {
  describe(`TokenStore contract on ${target.name}`, function () {
    this.timeout(30_000);
    const { makeStore, trackClient } = targetStores(target);

    describe('issue and verify', () => {
      it('issues a token that verifies to its user, device, meta and dates', async () => {
        const store = makeStore({ ttl: 3600 });
        const before = Date.now();
        const issued = await store.issue('alice', { device: 'phone-1', meta: { label: 'Phone' } });
        const info = await store.verify(issued.token);

        expect(info).to.not.equal(null);
        expect(info?.id).to.equal(issued.id);
        expect(info?.userId).to.equal('alice');
        expect(info?.device).to.equal('phone-1');
        expect(info?.meta).to.deep.equal({ label: 'Phone' });
        expect(info?.createdAt.getTime()).to.be.within(before - 1000, Date.now() + 1000);
        expect(info?.expiresAt?.getTime()).to.be.closeTo(before + 3600_000, 5000);
        expect(issued.expiresAt?.getTime()).to.be.closeTo(before + 3600_000, 5000);
      });

      it('says first only for a user without another live token', async () => {
        const store = makeStore();
        expect((await store.issue('bob')).first).to.equal(true);
        expect((await store.issue('bob')).first).to.equal(false);
        expect((await store.issue('carol')).first).to.equal(true);
      });

      it('keeps numeric user ids as strings', async () => {
        const store = makeStore();
        const issued = await store.issue(42);
        expect((await store.verify(issued.token))?.userId).to.equal('42');
        expect(await store.list('42')).to.have.length(1);
      });

      it('returns null for unknown, forged and malformed tokens', async () => {
        const store = makeStore();
        const issued = await store.issue('alice');
        const other = makeStore();
        const foreign = await other.issue('alice');

        expect(await store.verify(foreign.token)).to.equal(null);
        // A changed last character (never the one it already is, 1 token in 62 ends in x).
        const changed = issued.token.endsWith('x') ? 'y' : 'x';
        expect(await store.verify(`${issued.token.slice(0, -1)}${changed}`)).to.equal(null);
        expect(await store.verify('')).to.equal(null);
        expect(await store.verify('mt_')).to.equal(null);
        expect(await store.verify('x'.repeat(10_000))).to.equal(null);
      });

      it('rejects a malformed token without any Redis call', async () => {
        const store = makeStore();
        const issued = await store.issue('alice');
        const sent = sinon.spy(store.redis, 'sendCommand');
        const checksum = issued.token.endsWith('zz') ? 'yy' : 'zz';
        expect(await store.verify(`${issued.token.slice(0, -2)}${checksum}`)).to.equal(null);
        expect(await store.verify('Bearer nonsense')).to.equal(null);
        expect(sent.callCount).to.equal(0);
      });

      it('sends each operation as one command whose keys share one hash slot', async () => {
        const store = makeStore();
        const phone = await store.issue('alice', { device: 'phone' });
        const laptop = await store.issue('alice', { device: 'laptop' });
        const kept = await store.issue('alice');
        const sent = sinon.spy(store.redis, 'sendCommand');
        await store.issue('alice');
        await store.verify(phone.token);
        await store.list('alice');
        await store.revoke(phone.token);
        await store.revokeById('alice', laptop.id);
        await store.revokeOthers('alice', kept.id);
        await store.revokeAll('alice');

        expect(sent.callCount).to.equal(7);
        for (const call of sent.getCalls()) {
          const command = call.args[0] as Command;
          // verify is a plain read of the record; everything that writes is one script.
          expect(command.name).to.match(/^(eval(sha)?|hmget)$/);
          const keys = command.getKeys().map(String);
          expect(keys.length).to.be.at.least(1);
          expect(new Set(keys.map(keySlot)).size).to.equal(1);
        }
      });

      it('checks a well-formed token with one Redis command', async () => {
        const store = makeStore();
        const issued = await store.issue('alice');
        const sent = sinon.spy(store.redis, 'sendCommand');
        await store.verify(issued.token);
        expect(sent.callCount).to.equal(1);
      });

      it('gives tokens that never expire when ttl is null', async () => {
        const store = makeStore({ ttl: null });
        const issued = await store.issue('alice');
        expect(issued.expiresAt).to.equal(null);
        expect((await store.verify(issued.token))?.expiresAt).to.equal(null);
      });

      it('lets a per-token ttl override the store', async () => {
        const store = makeStore({ ttl: 3600 });
        const short = await store.issue('alice', { ttl: 60 });
        const forever = await store.issue('alice', { ttl: null });
        expect(short.expiresAt?.getTime()).to.be.closeTo(Date.now() + 60_000, 5000);
        expect(forever.expiresAt).to.equal(null);
      });

      it('stops verifying a token once its ttl has passed', async () => {
        const store = makeStore({ ttl: 1 });
        const issued = await store.issue('alice');
        const start = Date.now();
        expect(await store.verify(issued.token)).to.not.equal(null);
        await waitFor(
          'the token to expire',
          async () => (await store.verify(issued.token)) === null,
          {
            timeout: 5000,
            interval: 50,
          },
        );
        expect(Date.now() - start).to.be.within(800, 3000);
        expect(await store.list('alice')).to.deep.equal([]);
      });
    });

    describe('devices', () => {
      it('keeps one token per device, all of them valid at once', async () => {
        const store = makeStore();
        const phone = await store.issue('alice', { device: 'phone' });
        const laptop = await store.issue('alice', { device: 'laptop' });
        const tablet = await store.issue('alice', { device: 'tablet' });
        for (const issued of [phone, laptop, tablet]) {
          expect(await store.verify(issued.token)).to.not.equal(null);
        }
        const listed = await store.list('alice');
        expect(listed.map((t) => t.device)).to.have.members(['phone', 'laptop', 'tablet']);
      });

      it('replaces the token of a device that logs in again', async () => {
        const store = makeStore();
        const old = await store.issue('alice', { device: 'phone' });
        const laptop = await store.issue('alice', { device: 'laptop' });
        const fresh = await store.issue('alice', { device: 'phone' });

        expect(await store.verify(old.token)).to.equal(null);
        expect((await store.verify(fresh.token))?.device).to.equal('phone');
        expect(await store.verify(laptop.token)).to.not.equal(null);
        expect((await store.list('alice')).map((t) => t.id)).to.have.members([fresh.id, laptop.id]);
      });

      it('lists live tokens newest first, without secrets', async () => {
        const store = makeStore();
        const ids: string[] = [];
        for (const device of ['a', 'b', 'c']) {
          ids.push((await store.issue('alice', { device })).id);
          const issuedAt = Date.now();
          await waitFor('the clock to move on', () => Date.now() > issuedAt + 1, { interval: 1 });
        }
        const listed = await store.list('alice');
        expect(listed.map((t) => t.id)).to.deep.equal([...ids].reverse());
        const text = JSON.stringify(listed);
        expect(text).to.not.match(/mt_[0-9A-Za-z]{20}/);
      });

      it('lists nothing for a user without tokens', async () => {
        const store = makeStore();
        expect(await store.list('nobody')).to.deep.equal([]);
      });
    });

    describe('revocation', () => {
      it('revokes one token and leaves the others', async () => {
        const store = makeStore();
        const phone = await store.issue('alice', { device: 'phone' });
        const laptop = await store.issue('alice', { device: 'laptop' });

        expect(await store.revoke(phone.token)).to.equal(true);
        expect(await store.verify(phone.token)).to.equal(null);
        expect(await store.verify(laptop.token)).to.not.equal(null);
        expect(await store.revoke(phone.token)).to.equal(false);
        expect((await store.list('alice')).map((t) => t.id)).to.deep.equal([laptop.id]);
      });

      it('needs the whole token to revoke by token', async () => {
        const store = makeStore();
        const issued = await store.issue('alice');
        const forged = store.tokenPrefix + issued.token.slice(3, 17) + 'A'.repeat(49);
        expect(await store.revoke(forged)).to.equal(false);
        expect(await store.verify(issued.token)).to.not.equal(null);
      });

      it('revokes by public id, only for the owner', async () => {
        const store = makeStore();
        const issued = await store.issue('alice');
        expect(await store.revokeById('mallory', issued.id)).to.equal(false);
        expect(await store.verify(issued.token)).to.not.equal(null);
        expect(await store.revokeById('alice', issued.id)).to.equal(true);
        expect(await store.verify(issued.token)).to.equal(null);
        expect(await store.revokeById('alice', issued.id)).to.equal(false);
        expect(await store.revokeById('alice', 'not-an-id')).to.equal(false);
      });

      it('revokes all tokens of a user and no one else', async () => {
        const store = makeStore();
        const mine = await Promise.all(
          [1, 2, 3].map((n) => store.issue('alice', { device: `d${n}` })),
        );
        const theirs = await store.issue('bob');

        expect(await store.revokeAll('alice')).to.equal(3);
        for (const issued of mine) expect(await store.verify(issued.token)).to.equal(null);
        expect(await store.verify(theirs.token)).to.not.equal(null);
        expect(await store.list('alice')).to.deep.equal([]);
        expect(await store.revokeAll('alice')).to.equal(0);
      });

      it('revokes all other tokens of a user, keeping the current one', async () => {
        const store = makeStore();
        const keep = await store.issue('alice', { device: 'phone' });
        const others = await Promise.all(
          ['a', 'b'].map((device) => store.issue('alice', { device })),
        );

        expect(await store.revokeOthers('alice', keep.id)).to.equal(2);
        expect(await store.verify(keep.token)).to.not.equal(null);
        for (const issued of others) expect(await store.verify(issued.token)).to.equal(null);
        expect((await store.list('alice')).map((t) => t.id)).to.deep.equal([keep.id]);
      });

      it('leaves no key behind once every token is revoked', async () => {
        const store = makeStore();
        const issued = await Promise.all(
          ['a', 'b'].map((device) => store.issue('alice', { device })),
        );
        await store.revoke(issued[0].token);
        await store.revokeById('alice', issued[1].id);
        expect(await allKeys(store.redis, store.keyPrefix)).to.deep.equal([]);
      });
    });

    describe('login resets the ttl of other tokens', () => {
      it("extends the user's other tokens to ttl on a new login", async () => {
        const store = makeStore({ ttl: 3600 });
        const old = await store.issue('alice', { ttl: 60 });
        await store.issue('alice');
        const info = await store.verify(old.token);
        expect(info?.expiresAt?.getTime()).to.be.closeTo(Date.now() + 3600_000, 5000);
      });

      it('leaves them alone with resetTtlOnLogin: false', async () => {
        const store = makeStore({ ttl: 3600, resetTtlOnLogin: false });
        const old = await store.issue('alice', { ttl: 60 });
        await store.issue('alice');
        const info = await store.verify(old.token);
        expect(info?.expiresAt?.getTime()).to.be.closeTo(Date.now() + 60_000, 5000);
      });

      it('gives never-expiring tokens the ttl, unless overwriteNullTtl is false', async () => {
        const overwrite = makeStore({ ttl: 3600 });
        const a = await overwrite.issue('alice', { ttl: null });
        await overwrite.issue('alice');
        expect((await overwrite.verify(a.token))?.expiresAt).to.not.equal(null);

        const keep = makeStore({ ttl: 3600, overwriteNullTtl: false });
        const b = await keep.issue('alice', { ttl: null });
        await keep.issue('alice');
        expect((await keep.verify(b.token))?.expiresAt).to.equal(null);
      });

      it('does not touch other users', async () => {
        const store = makeStore({ ttl: 3600 });
        const bob = await store.issue('bob', { ttl: 60 });
        await store.issue('alice');
        const info = await store.verify(bob.token);
        expect(info?.expiresAt?.getTime()).to.be.closeTo(Date.now() + 60_000, 5000);
      });
    });

    describe('storage', () => {
      it('keeps all keys of one user in one cluster hash slot', async () => {
        const store = makeStore();
        await Promise.all(['a', 'b', 'c'].map((device) => store.issue('alice', { device })));
        const keys = await allKeys(store.redis, store.keyPrefix);
        expect(keys.length).to.equal(4);
        expect(new Set(keys.map(hashTag)).size).to.equal(1);
      });

      it('stores no token and no long piece of one in Redis', async () => {
        const store = makeStore();
        const tokens = await Promise.all(
          ['a', 'b', 'c'].map((device) =>
            store.issue('alice', { device, meta: { label: device } }),
          ),
        );
        const dump: string[] = [];
        for (const key of await allKeys(store.redis, store.keyPrefix)) {
          const node = await target.nodeFor(store.redis, key);
          dump.push(
            key,
            ...(await node.hgetallBuffer(key).then((h) => Object.entries(h).flat().map(String))),
          );
        }
        const text = dump.join('\n');
        for (const { token } of tokens) {
          for (let i = 0; i + 16 <= token.length; i++)
            expect(text).to.not.include(token.slice(i, i + 16));
        }
      });

      it('never shows a token whose record vanished under it', async () => {
        const store = makeStore();
        const gone = await store.issue('alice', { device: 'a' });
        const kept = await store.issue('alice', { device: 'b' });
        const key = (await allKeys(store.redis, store.keyPrefix)).find((k) => k.endsWith(gone.id));
        expect(key).to.be.a('string');
        const node = await target.nodeFor(store.redis, key as string);
        await node.del(key as string);

        expect((await store.list('alice')).map((t) => t.id)).to.deep.equal([kept.id]);
      });
    });

    describe('durable writes', () => {
      it('rejects with NotDurableError when fewer replicas than asked acknowledge', async () => {
        const wanted = target.replicas + 1;
        const store = makeStore({ durable: { replicas: wanted, timeout: 100 } });
        const failed = await store.issue('alice', { device: 'phone' }).catch((err) => err);
        expect(failed).to.be.instanceOf(NotDurableError);
        expect(failed).to.include({ code: 'ERR_NOT_DURABLE', wanted, reached: target.replicas });
        // The token was never handed out, so it does not stay on the user's list either.
        expect(await store.list('alice')).to.deep.equal([]);

        const issued = await store.issue('alice', { durable: 0 });
        expect(await store.revoke(issued.token).catch((err) => err)).to.be.instanceOf(
          NotDurableError,
        );
        // The master holds the revocation all the same.
        expect(await store.verify(issued.token)).to.equal(null);
      });

      it('waits for the durable option of each revoke call', async () => {
        const store = makeStore();
        const durable = { replicas: target.replicas + 1, timeout: 50 };
        const [a, b, c] = await Promise.all(
          ['a', 'b', 'c'].map((d) => store.issue('bob', { device: d })),
        );
        const calls = [
          () => store.revokeById('bob', a.id, { durable }),
          () => store.revokeOthers('bob', b.id, { durable }),
          () => store.revokeAll('bob', { durable }),
          () => store.revoke(b.token, { durable }),
        ];
        for (const call of calls) {
          expect(await call().catch((err) => err)).to.be.instanceOf(NotDurableError);
        }
        for (const issued of [a, b, c]) expect(await store.verify(issued.token)).to.equal(null);
      });

      if (target.replicas > 0) {
        it('resolves a durable write once the replicas hold it', async () => {
          const store = makeStore({ durable: target.replicas });
          const issued = await store.issue('alice');
          const [record] = (await allKeys(store.redis, store.keyPrefix)).filter((k) =>
            k.endsWith(issued.id),
          );
          const replica = await (target.replicaFor as NonNullable<typeof target.replicaFor>)(
            store.redis,
            record,
          );
          trackClient(replica);
          expect(await replica.hget(record, 'u')).to.equal('alice');

          expect(await store.revokeById('alice', issued.id)).to.equal(true);
          expect(await replica.exists(record)).to.equal(0);
        });
      }

      it('reloads its scripts when Redis has forgotten them', async () => {
        const store = makeStore();
        const issued = await store.issue('alice');
        const [record] = await allKeys(store.redis, store.keyPrefix);
        await (await target.nodeFor(store.redis, record)).script('FLUSH');

        expect((await store.verify(issued.token))?.userId).to.equal('alice');
        await (await target.nodeFor(store.redis, record)).script('FLUSH');
        const durable = { replicas: target.replicas + 1, timeout: 50 };
        expect(await store.revokeAll('alice', { durable }).catch((err) => err)).to.be.instanceOf(
          NotDurableError,
        );
        expect(await store.verify(issued.token)).to.equal(null);
      });
    });

    describe('concurrency', () => {
      it('loses no token when one user logs in 200 times at once', async () => {
        const store = makeStore();
        const issued = await Promise.all(Array.from({ length: 200 }, () => store.issue('alice')));
        expect(issued.filter((t) => t.first)).to.have.length(1);
        const listed = await store.list('alice');
        expect(listed).to.have.length(200);
        const verified = await Promise.all(issued.map((t) => store.verify(t.token)));
        expect(verified.every((info) => info !== null)).to.equal(true);
      });

      it('keeps exactly one token when one device logs in 50 times at once', async () => {
        const store = makeStore();
        const issued = await Promise.all(
          Array.from({ length: 50 }, () => store.issue('alice', { device: 'phone' })),
        );
        const live = (await Promise.all(issued.map((t) => store.verify(t.token)))).filter(Boolean);
        expect(live).to.have.length(1);
        expect(await store.list('alice')).to.have.length(1);
      });

      it('never verifies a token after its revocation resolved', async () => {
        const store = makeStore();
        const tokens = await Promise.all(Array.from({ length: 50 }, () => store.issue('alice')));
        await Promise.all(
          tokens.map(async ({ token }) => {
            const during = store.verify(token);
            await store.revoke(token);
            expect(await store.verify(token)).to.equal(null);
            await during;
          }),
        );
        expect(await store.list('alice')).to.deep.equal([]);
      });
    });
  });
}
