import { expect } from 'chai';
import { TokenStore } from '../lib/index.js';
import { closeAll, testRedisUrl, testStore, waitFor } from './helpers/index.js';

describe('the timeUnit option', () => {
  afterEach(closeAll);

  it('counts ttl in seconds by default', async () => {
    const store = testStore({ ttl: 60 });
    expect(store.timeUnit).to.equal(1000);
    const issued = await store.issue('alice');
    expect(issued.expiresAt?.getTime()).to.be.closeTo(Date.now() + 60_000, 2000);
  });

  it('lets a test count ttl in milliseconds, Redis still deciding the expiry', async () => {
    const store = testStore({ ttl: 80, timeUnit: 1 });
    const start = Date.now();
    const issued = await store.issue('alice');
    expect(issued.expiresAt?.getTime()).to.be.closeTo(start + 80, 40);
    // The elapsed time is what is tested: the token must outlive its first few ms.
    expect(await store.verify(issued.token)).to.not.equal(null);
    await waitFor('the token to expire', async () => (await store.verify(issued.token)) === null, {
      timeout: 5000,
      interval: 5,
    });
    expect(Date.now() - start).to.be.at.least(78);
  });

  it('rejects a timeUnit that is not a positive integer', () => {
    for (const timeUnit of [0, -1, 1.5, Number.NaN]) {
      expect(() => new TokenStore({ redis: testRedisUrl(), timeUnit }))
        .to.throw(RangeError)
        .with.property('code', 'ERR_INVALID_ARGUMENT');
    }
    expect(() => new TokenStore({ redis: testRedisUrl(), timeUnit: '1' as unknown as number }))
      .to.throw(TypeError)
      .with.property('code', 'ERR_INVALID_ARGUMENT');
  });
});
