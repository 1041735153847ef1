import { expect } from 'chai';
import { closeAll, rawClient, testStore } from './helpers/index.js';

describe('sliding expiry of a token issued to never expire', () => {
  afterEach(closeAll);

  it('reports the expiry a later login gave it, not "never", when a verify slides it', async () => {
    // Found by the model-based test: verify answered expiresAt null while Redis kept a TTL.
    const store = testStore({ ttl: 3600, slidingTtl: true, touchInterval: 0 });
    const forever = await store.issue('alice', { ttl: null });
    await store.issue('alice');

    const info = await store.verify(forever.token);
    const client = rawClient();
    try {
      const pttl = await client.pttl(
        `${store.keyPrefix}{${forever.token.slice(3, 7)}}:t:${forever.id}`,
      );
      expect(pttl).to.be.within(3_590_000, 3_600_000);
      expect(info?.expiresAt?.getTime()).to.be.closeTo(Date.now() + pttl, 5000);
      const [listed] = await store
        .list('alice')
        .then((all) => all.filter((t) => t.id === forever.id));
      expect(listed.expiresAt?.getTime()).to.be.closeTo(Date.now() + pttl, 5000);
    } finally {
      await client.quit();
    }
  });
});
