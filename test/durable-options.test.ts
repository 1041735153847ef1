import { expect } from 'chai';
import {
  InvalidArgumentRangeError,
  InvalidArgumentTypeError,
  NotDurableError,
  RedisMultiTokenStrategy,
  TokenStore,
} from '../lib/index.js';
import { closeAll, keysUnder, rawClient, testStore, track } from './helpers/index.js';

describe('the durable option', () => {
  afterEach(closeAll);

  it('is off by default and takes a replica count or { replicas, timeout }', () => {
    expect(testStore().durable).to.equal(null);
    expect(testStore({ durable: 0 }).durable).to.equal(null);
    expect(testStore({ durable: 2 }).durable).to.deep.equal({ replicas: 2, timeout: 1000 });
    expect(testStore({ durable: { replicas: 1, timeout: 250 } }).durable).to.deep.equal({
      replicas: 1,
      timeout: 250,
    });
    const strategy = new RedisMultiTokenStrategy({ durable: 1 });
    track(strategy.store);
    expect(strategy.store.durable).to.deep.equal({ replicas: 1, timeout: 1000 });
  });

  it('rejects a malformed durable option with a typed error', () => {
    const bad: Array<
      [unknown, typeof InvalidArgumentTypeError | typeof InvalidArgumentRangeError]
    > = [
      [-1, InvalidArgumentRangeError],
      [1.5, InvalidArgumentRangeError],
      ['1', InvalidArgumentTypeError],
      [true, InvalidArgumentTypeError],
      [null, InvalidArgumentTypeError],
      [[1], InvalidArgumentTypeError],
      [{}, InvalidArgumentTypeError],
      [{ replicas: 1, timeout: 0 }, InvalidArgumentRangeError],
      [{ replicas: 1, timeout: '5' }, InvalidArgumentTypeError],
      [{ replicas: -2 }, InvalidArgumentRangeError],
    ];
    for (const [durable, type] of bad) {
      expect(() => new TokenStore({ redis: 'redis://127.0.0.1:1', durable: durable as 1 }))
        .to.throw(type)
        .with.property('code', 'ERR_INVALID_ARGUMENT');
    }
  });

  it('writes nothing when a call is given a malformed durable option', async () => {
    const store = testStore();
    const issued = await store.issue('alice', { device: 'phone' });
    const raw = rawClient();
    const before = await keysUnder(raw, store.keyPrefix);
    const durable = { replicas: 'one' } as unknown as number;

    const calls = [
      () => store.issue('alice', { durable }),
      () => store.revoke(issued.token, { durable }),
      () => store.revokeById('alice', issued.id, { durable }),
      () => store.revokeAll('alice', { durable }),
      () => store.revokeOthers('alice', issued.id, { durable }),
      () => store.revoke(issued.token, 'durable' as never),
    ];
    for (const call of calls) {
      const err = await call().catch((e) => e);
      expect(err).to.be.instanceOf(InvalidArgumentTypeError);
    }
    const after = await keysUnder(raw, store.keyPrefix);
    await raw.quit();
    expect(after).to.deep.equal(before);
    expect(await store.verify(issued.token)).to.not.equal(null);
  });

  it('gives WAIT its own timeout on top of the store timeout', async () => {
    // Without replicas WAIT runs out its full 300 ms, past the store's 100 ms timeout.
    const store = testStore({ timeout: 100, durable: { replicas: 1, timeout: 300 } });
    const failed = await store.issue('alice').catch((err) => err);
    expect(failed).to.be.instanceOf(NotDurableError);
    expect(failed).to.include({ wanted: 1, reached: 0 });
  });
});
