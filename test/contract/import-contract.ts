import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import {
  InvalidArgumentRangeError,
  InvalidArgumentTypeError,
  type TokenStore,
} from '../../lib/index.js';
import { uniquePrefix } from '../helpers/index.js';
import { allKeys, type ContractTarget, hashTag, targetStores } from './store-contract.js';

/** A token as an older bearer setup would have made it: 40 hex characters. */
function legacyToken(): string {
  return randomBytes(20).toString('hex');
}

/**
 * The promises of `import` and of verifying imported tokens, for one target: tokens of an
 * older setup become ordinary tokens of the store, found through a pointer in a slot of
 * their own.
 */
export function importContract(target: ContractTarget): void {
  describe(`importing legacy tokens on ${target.name}`, function () {
    this.timeout(30_000);
    const { makeStore } = targetStores(target, { importedTokens: true });

    async function pointerTtls(store: TokenStore): Promise<number[]> {
      const keys = (await allKeys(store.redis, store.keyPrefix)).filter((k) => k.includes('}:l:'));
      return Promise.all(
        keys.map(async (key) => (await target.nodeFor(store.redis, key)).pttl(key)),
      );
    }

    it('verifies an imported token from Redis alone, with its device and meta', async () => {
      const store = makeStore({ ttl: 3600 });
      const token = legacyToken();
      const result = await store.import('alice', token, {
        device: 'phone',
        meta: { source: 'legacy' },
      });

      expect(result.status).to.equal('imported');
      expect(result.expiresAt?.getTime()).to.be.closeTo(Date.now() + 3600_000, 5000);
      const info = await store.verify(token);
      expect(info?.id).to.equal(result.id);
      expect(info?.userId).to.equal('alice');
      expect(info?.device).to.equal('phone');
      expect(info?.meta).to.deep.equal({ source: 'legacy' });
      expect(await store.lookupImported(token)).to.deep.include({ status: 'live' });
    });

    it('keeps one record when the same token is imported twice', async () => {
      const store = makeStore();
      const token = legacyToken();
      const first = await store.import('alice', token);
      const second = await store.import('alice', token, { device: 'ignored' });

      expect(second).to.deep.include({ id: first.id, status: 'exists' });
      expect((await store.list('alice')).map((t) => t.id)).to.deep.equal([first.id]);
    });

    it('keeps one record when one token is imported 30 times at once', async () => {
      const store = makeStore();
      const token = legacyToken();
      const results = await Promise.all(
        Array.from({ length: 30 }, () => store.import('alice', token)),
      );

      expect(new Set(results.map((r) => r.id)).size).to.equal(1);
      expect(results.filter((r) => r.status === 'imported')).to.have.length(1);
      expect(await store.list('alice')).to.have.length(1);
      expect((await store.verify(token))?.id).to.equal(results[0].id);
    });

    it('lists imported tokens beside issued ones and revokes them by id', async () => {
      const store = makeStore();
      const token = legacyToken();
      const imported = await store.import('alice', token);
      const issued = await store.issue('alice', { device: 'laptop' });

      expect((await store.list('alice')).map((t) => t.id)).to.have.members([
        imported.id,
        issued.id,
      ]);
      expect(await store.revokeById('alice', imported.id)).to.equal(true);
      expect(await store.verify(token)).to.equal(null);
      expect(await store.verify(issued.token)).to.not.equal(null);
    });

    it('revokes an imported token by the token itself and with revokeAll', async () => {
      const store = makeStore();
      const one = legacyToken();
      const two = legacyToken();
      await store.import('alice', one);
      await store.import('alice', two, { device: 'tablet' });

      expect(await store.revoke(one)).to.equal(true);
      expect(await store.revoke(one)).to.equal(false);
      expect(await store.revokeAll('alice')).to.equal(1);
      expect(await store.verify(two)).to.equal(null);
      expect(await store.list('alice')).to.deep.equal([]);
    });

    it('keeps a revoked imported token revoked when it is imported again', async () => {
      const store = makeStore();
      const token = legacyToken();
      const imported = await store.import('alice', token);
      await store.revokeById('alice', imported.id);

      expect(await store.lookupImported(token)).to.deep.equal({ status: 'revoked' });
      const again = await store.import('alice', token);
      expect(again).to.deep.equal({ id: imported.id, status: 'revoked', expiresAt: null });
      expect(await store.verify(token)).to.equal(null);
      expect(await store.list('alice')).to.deep.equal([]);
    });

    it('refuses a token already imported for another user and writes nothing', async () => {
      const store = makeStore();
      const token = legacyToken();
      await store.import('alice', token);
      const before = await allKeys(store.redis, store.keyPrefix);

      const err = await store.import('mallory', token).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidArgumentRangeError);
      expect((err as Error).message).to.not.include(token);
      expect(await allKeys(store.redis, store.keyPrefix)).to.deep.equal(before);
      expect((await store.verify(token))?.userId).to.equal('alice');
    });

    it('rejects bad legacy tokens and options with typed errors, writing nothing', async () => {
      const store = makeStore();
      const bad: Array<[unknown, unknown, new (...args: never[]) => Error]> = [
        [42, undefined, InvalidArgumentTypeError],
        ['short', undefined, InvalidArgumentRangeError],
        ['x'.repeat(4097), undefined, InvalidArgumentRangeError],
        ['has a space in it', undefined, InvalidArgumentRangeError],
        ['tab\there-and-more', undefined, InvalidArgumentRangeError],
        ['nul\u0000in-the-middle', undefined, InvalidArgumentRangeError],
        [`${store.tokenPrefix}looks-like-ours`, undefined, InvalidArgumentRangeError],
        [legacyToken(), { ttl: 0 }, InvalidArgumentRangeError],
        [legacyToken(), { device: 7 }, InvalidArgumentTypeError],
        [legacyToken(), { scope: ['no spaces'] }, InvalidArgumentRangeError],
      ];
      for (const [token, options, type] of bad) {
        const err = await store
          .import('alice', token as string, options as never)
          .catch((e: unknown) => e);
        expect(err, String(token).slice(0, 20)).to.be.instanceOf(type);
        expect((err as { code?: string }).code).to.equal('ERR_INVALID_ARGUMENT');
        if (typeof token === 'string') expect((err as Error).message).to.not.include(token);
      }
      expect(await allKeys(store.redis, store.keyPrefix)).to.deep.equal([]);
    });

    it('keeps no legacy token or long piece of one in Redis or in events', async () => {
      const store = makeStore();
      const tokens = [legacyToken(), legacyToken()];
      const events: unknown[] = [];
      for (const name of ['imported', 'verified', 'revoked', 'rejected'] as const) {
        store.on(name, (event: unknown) => events.push(event));
      }
      for (const token of tokens) await store.import('alice', token, { device: token.slice(0, 4) });
      for (const token of tokens) await store.verify(token);
      await store.revoke(tokens[0]);
      await store.verify(tokens[0]);

      const dump: string[] = [JSON.stringify(events)];
      for (const key of await allKeys(store.redis, store.keyPrefix)) {
        const node = await target.nodeFor(store.redis, key);
        const type = await node.type(key);
        const value =
          type === 'hash'
            ? Object.entries(await node.hgetallBuffer(key))
                .flat()
                .map(String)
            : [String(await node.getBuffer(key))];
        dump.push(key, ...value);
      }
      const text = dump.join('\n');
      expect(events).to.have.length.greaterThan(4);
      for (const token of tokens) {
        for (let i = 0; i + 12 <= token.length; i++)
          expect(text).to.not.include(token.slice(i, i + 12));
      }
    });

    it("puts the record in the user's slot and the pointer in a slot of its own", async () => {
      const store = makeStore();
      await store.issue('alice');
      await store.import('alice', legacyToken());
      const keys = await allKeys(store.redis, store.keyPrefix);
      const pointers = keys.filter((k) => k.includes('}:l:'));
      const userKeys = keys.filter((k) => !k.includes('}:l:'));

      expect(pointers).to.have.length(1);
      expect(userKeys).to.have.length(3);
      expect(new Set(userKeys.map(hashTag)).size).to.equal(1);
    });

    it('looks an imported token up in two calls, and its own tokens still in one', async () => {
      const store = makeStore();
      const token = legacyToken();
      await store.import('alice', token);
      const issued = await store.issue('alice');
      const sent = sinon.spy(store.redis, 'sendCommand');

      await store.verify(token);
      expect(sent.callCount).to.equal(2);
      sent.resetHistory();
      await store.verify(issued.token);
      expect(sent.callCount).to.equal(1);
    });

    it('skips the lookup without a Redis call when importedTokens is false', async () => {
      const prefix = uniquePrefix();
      const writer = makeStore({}, prefix);
      const token = legacyToken();
      await writer.import('alice', token);
      const store = makeStore({ importedTokens: false }, prefix);
      const sent = sinon.spy(store.redis, 'sendCommand');

      expect(await store.verify(token)).to.equal(null);
      expect(sent.callCount).to.equal(0);
      expect((await writer.verify(token))?.userId).to.equal('alice');
    });

    it('hashes imports under the HMAC secret and follows a key rotation', async () => {
      const prefix = uniquePrefix();
      const oldKey = 'o'.repeat(32);
      const newKey = 'n'.repeat(32);
      const token = legacyToken();
      await makeStore({ secret: oldKey }, prefix).import('alice', token);

      expect(await makeStore({ secret: newKey }, prefix).verify(token)).to.equal(null);
      const rotated = makeStore({ secret: [newKey, oldKey] }, prefix);
      expect((await rotated.verify(token))?.userId).to.equal('alice');
      // The pointer moved to the new key: the old one can be dropped now.
      expect((await makeStore({ secret: newKey }, prefix).verify(token))?.userId).to.equal('alice');
      expect((await rotated.import('alice', token)).status).to.equal('exists');
    });

    it('lets the pointer outlive its record, and follows a TTL that grew', async () => {
      const store = makeStore({ ttl: 3600 });
      const token = legacyToken();
      await store.import('alice', token, { ttl: 600 });
      const [ttl] = await pointerTtls(store);
      expect(ttl).to.be.closeTo((600 + 3600) * 1000, 5000);

      // A login elsewhere resets the imported token's TTL to the store's 3600 s; the next
      // use carries the pointer along.
      await store.issue('alice', { device: 'laptop' });
      await store.verify(token);
      const [grown] = await pointerTtls(store);
      expect(grown).to.be.closeTo(2 * 3600 * 1000, 5000);
    });

    it('gives never-expiring imports a never-expiring pointer', async () => {
      const store = makeStore({ ttl: null });
      const token = legacyToken();
      const result = await store.import(7, token);
      expect(result.expiresAt).to.equal(null);
      expect(await pointerTtls(store)).to.deep.equal([-1]);
      expect((await store.verify(token))?.userId).to.equal('7');
    });

    it('replaces the token of the device an import names, as a login does', async () => {
      const store = makeStore();
      const old = await store.issue('alice', { device: 'phone' });
      const revoked: unknown[] = [];
      const imported: unknown[] = [];
      store.on('revoked', (event) => revoked.push(event));
      store.on('imported', (event) => imported.push(event));
      const result = await store.import('alice', legacyToken(), { device: 'phone' });

      expect(await store.verify(old.token)).to.equal(null);
      expect(revoked).to.deep.equal([{ id: old.id, userId: 'alice', reason: 'replaced' }]);
      expect(imported).to.deep.equal([{ id: result.id, userId: 'alice', device: 'phone' }]);
    });

    it('says unknown for a legacy token that was never imported', async () => {
      const store = makeStore();
      expect(await store.lookupImported(legacyToken())).to.deep.equal({ status: 'unknown' });
      expect(await store.verify(legacyToken())).to.equal(null);
    });
  });
}
