import { expect } from 'chai';
import { Cluster } from 'ioredis';
import sinon from 'sinon';
import { InvalidArgumentRangeError, TokenStore } from '../lib/index.js';
import { formatToken } from '../lib/token-format.js';
import { cachedTestStore, closeAll, rawClient, testStore, waitFor } from './helpers/index.js';

/** Counts the commands a store sends from now on. */
function commandsOf(store: TokenStore): sinon.SinonSpy {
  return sinon.spy(store.redis, 'sendCommand');
}

describe('local verify cache', () => {
  afterEach(async () => {
    sinon.restore();
    await closeAll();
  });

  it('is off by default, so every verify asks Redis', async () => {
    const store = testStore();
    const { token } = await store.issue('alice');
    const sent = commandsOf(store);
    await store.verify(token);
    await store.verify(token);
    expect(sent.callCount).to.equal(2);
    expect(store.cacheStats()).to.equal(null);
  });

  it('answers a repeated verify from memory with the same token info', async () => {
    const store = await cachedTestStore();
    const { token } = await store.issue('alice', { device: 'phone', meta: { label: 'Phone' } });
    const first = await store.verify(token);
    const sent = commandsOf(store);
    const second = await store.verify(token);

    expect(sent.callCount).to.equal(0);
    expect(second).to.deep.equal(first);
    (second as { meta: Record<string, string> }).meta.label = 'changed';
    expect((await store.verify(token))?.meta).to.deep.equal({ label: 'Phone' });
    expect(store.cacheStats()).to.include({ entries: 1, hits: 2, connected: true });
  });

  it('never answers a forged secret from a cached id', async () => {
    const store = await cachedTestStore();
    const issued = await store.issue('alice');
    await store.verify(issued.token);
    const body = issued.token.slice(store.tokenPrefix.length);
    const forged = formatToken(store.tokenPrefix, body.slice(0, 4), issued.id);
    expect(await store.verify(forged)).to.equal(null);
    expect(await store.verify(issued.token)).to.not.equal(null);
  });

  it('stops verifying a token revoked through another store within a second', async () => {
    const cached = await cachedTestStore();
    const other = testStore({ keyPrefix: cached.keyPrefix });
    const phone = await other.issue('alice', { device: 'phone' });
    const laptop = await other.issue('alice', { device: 'laptop' });
    await cached.verify(phone.token);
    await cached.verify(laptop.token);
    const sent = commandsOf(cached);
    expect(await cached.verify(phone.token)).to.not.equal(null);
    expect(sent.callCount).to.equal(0);

    await other.revoke(phone.token);
    await waitFor(
      'the revocation to reach the cache',
      async () => !(await cached.verify(phone.token)),
      {
        timeout: 1000,
        interval: 5,
      },
    );
    await other.revokeAll('alice');
    await waitFor(
      'revokeAll to reach the cache',
      async () => !(await cached.verify(laptop.token)),
      {
        timeout: 1000,
        interval: 5,
      },
    );
  });

  it('never answers a token after its revocation resolved in the same store', async () => {
    const store = await cachedTestStore();
    const tokens = await Promise.all(
      ['a', 'b', 'c', 'd'].map((device) => store.issue('alice', { device })),
    );
    for (const { token } of tokens) await store.verify(token);

    await store.revoke(tokens[0].token);
    expect(await store.verify(tokens[0].token)).to.equal(null);
    await store.revokeById('alice', tokens[1].id);
    expect(await store.verify(tokens[1].token)).to.equal(null);
    await store.revokeOthers('alice', tokens[3].id);
    expect(await store.verify(tokens[2].token)).to.equal(null);
    const replaced = await store.issue('alice', { device: 'd' });
    expect(await store.verify(tokens[3].token)).to.equal(null);
    expect(await store.verify(replaced.token)).to.not.equal(null);
  });

  it('serves a token no longer than its expiry, by the local clock', async () => {
    const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date', 'performance'] });
    const store = await cachedTestStore({ ttl: 2 });
    const { token } = await store.issue('alice');
    const expiresAt = (await store.verify(token))?.expiresAt?.getTime() ?? 0;
    const sent = commandsOf(store);

    clock.tick(expiresAt - Date.now() - 100);
    await store.verify(token);
    expect(sent.callCount).to.equal(0);
    clock.tick(101);
    await store.verify(token);
    expect(sent.callCount).to.equal(1);
    expect(store.cacheStats()?.resets).to.equal(0);
  });

  it('serves a token no longer than its touchInterval, so lastUsedAt keeps being recorded', async () => {
    const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date', 'performance'] });
    const store = await cachedTestStore({ touchInterval: 1, slidingTtl: true });
    const { token } = await store.issue('alice');
    const usedAt = (await store.verify(token))?.lastUsedAt.getTime() ?? 0;
    const sent = commandsOf(store);
    await store.verify(token);
    expect(sent.callCount).to.equal(0);
    clock.tick(usedAt + 1000 - Date.now() + 1);
    await store.verify(token);
    expect(sent.callCount).to.be.at.least(1);
  });

  it('empties itself when its invalidation link drops, and fills again once it is back', async () => {
    const store = await cachedTestStore();
    const { token } = await store.issue('alice');
    await store.verify(token);
    const raw = rawClient();
    const clients = String(await raw.client('LIST').finally(() => raw.quit()));
    const line = clients
      .split('\n')
      .find((entry) => entry.includes('name=passport-redis-multitokens:cache'));
    const id = /id=(\d+)/.exec(line ?? '')?.[1];
    expect(id).to.be.a('string');

    const sent = commandsOf(store);
    const killer = rawClient();
    await killer.client('KILL', 'ID', id as string).finally(() => killer.quit());
    await waitFor('the cache to notice', () => store.cacheStats()?.resets === 1);
    expect(store.cacheStats()?.entries).to.equal(0);
    await store.verify(token);
    expect(sent.callCount).to.equal(1);

    await waitFor('the link to come back', () => store.cacheStats()?.connected === true);
    await store.verify(token);
    await store.verify(token);
    expect(sent.callCount).to.equal(2);
  });

  it('keeps at most maxEntries tokens, dropping the one cached longest ago', async () => {
    const store = await cachedTestStore({ cache: { maxEntries: 2 } });
    const tokens = await Promise.all([1, 2, 3].map(() => store.issue('alice')));
    for (const { token } of tokens) await store.verify(token);
    expect(store.cacheStats()?.entries).to.equal(2);

    const sent = commandsOf(store);
    await store.verify(tokens[2].token);
    expect(sent.callCount).to.equal(0);
    await store.verify(tokens[0].token);
    expect(sent.callCount).to.equal(1);
  });

  it('rejects a cache on a Redis Cluster with a clear error, and a bad maxEntries', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(() => new TokenStore({ redis: cluster, cache: true })).to.throw(
      InvalidArgumentRangeError,
      /Cluster/,
    );
    expect(
      () => new TokenStore({ redis: 'redis://127.0.0.1:1', cache: { maxEntries: 0 } }),
    ).to.throw(InvalidArgumentRangeError);
    cluster.disconnect();
  });
});
