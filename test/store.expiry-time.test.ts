import { expect } from 'chai';
import { userTag } from '../lib/token-format.js';
import { closeAll, rawClient, testStore } from './helpers/index.js';

describe('the expiry a store reports', () => {
  afterEach(closeAll);

  it('is when Redis ends the token, even if the issue script runs a while', async () => {
    const store = testStore({ ttl: 3600 });
    const client = rawClient();
    try {
      // 50,000 stale index entries make the script sweep them before it sets the expiry.
      const base = `${store.keyPrefix}{${userTag('alice')}}:`;
      const stale: string[] = [];
      for (let i = 0; i < 50_000; i++) stale.push(`stale${String(i).padStart(5, '0')}`, '');
      await client.hset(`${base}u:alice`, ...stale);

      const issued = await store.issue('alice');
      const expireTime = await client.pexpiretime(`${base}t:${issued.id}`);
      expect(expireTime).to.equal(issued.expiresAt?.getTime());
      expect(await client.hlen(`${base}u:alice`)).to.equal(1);
    } finally {
      await client.quit();
    }
  });
});
