import { expect } from 'chai';
import {
  InvalidArgumentRangeError,
  InvalidArgumentTypeError,
  TokenStore,
  TokenStoreError,
} from '../lib/index.js';
import { closeAll, keysUnder, rawClient, testRedisUrl, testStore } from './helpers/index.js';

type Case = [string, () => Promise<unknown>, typeof TypeError | typeof RangeError];

describe('argument checks', () => {
  let raw: ReturnType<typeof rawClient>;
  before(() => {
    raw = rawClient();
  });
  after(() => raw.quit());
  afterEach(closeAll);

  it('rejects bad input with a typed ERR_INVALID_ARGUMENT error and writes nothing', async () => {
    const store = testStore();
    const { token, id } = await store.issue('alice');
    const before = await keysUnder(raw, store.keyPrefix);
    const cases: Case[] = [
      ['an empty user id', () => store.issue(''), RangeError],
      ['an over-long user id', () => store.issue('u'.repeat(513)), RangeError],
      ['a user id that is not a string', () => store.issue({} as never), TypeError],
      ['a fractional numeric user id', () => store.issue(1.5), RangeError],
      ['a lone surrogate in a user id', () => store.issue('a\ud800'), RangeError],
      ['an empty device', () => store.issue('alice', { device: '' }), RangeError],
      ['an over-long device', () => store.issue('alice', { device: 'd'.repeat(129) }), RangeError],
      ['a numeric device', () => store.issue('alice', { device: 5 as never }), TypeError],
      ['a zero ttl', () => store.issue('alice', { ttl: 0 }), RangeError],
      ['a fractional ttl', () => store.issue('alice', { ttl: 1.5 }), RangeError],
      ['a negative ttl', () => store.issue('alice', { ttl: -1 }), RangeError],
      ['a string ttl', () => store.issue('alice', { ttl: '60' as never }), TypeError],
      ['oversized meta', () => store.issue('alice', { meta: { a: 'x'.repeat(2000) } }), RangeError],
      ['too many meta entries', () => store.issue('alice', { meta: manyEntries(17) }), RangeError],
      [
        'a non-string meta value',
        () => store.issue('alice', { meta: { a: 1 as never } }),
        TypeError,
      ],
      ['meta as an array', () => store.issue('alice', { meta: [] as never }), TypeError],
      ['a scope with a space', () => store.issue('alice', { scope: ['a b'] }), RangeError],
      [
        'a scope that is a string',
        () => store.issue('alice', { scope: 'read' as never }),
        TypeError,
      ],
      ['options that are not an object', () => store.issue('alice', 5 as never), TypeError],
      ['a token that is not a string', () => store.verify(42 as never), TypeError],
      ['a revoke of a token that is not a string', () => store.revoke(null as never), TypeError],
      ['an id that is not a string', () => store.revokeById('alice', 5 as never), TypeError],
      ['a keepId that is no token id', () => store.revokeOthers('alice', 'nope'), RangeError],
      ['a user id for list that is empty', () => store.list(''), RangeError],
    ];

    for (const [what, call, type] of cases) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, what).to.be.instanceOf(type);
      expect(err, what).to.be.instanceOf(TokenStoreError);
      expect((err as TokenStoreError).code, what).to.equal('ERR_INVALID_ARGUMENT');
      expect((err as Error).message, what).to.not.include(token);
    }
    expect(await keysUnder(raw, store.keyPrefix)).to.deep.equal(before);
    expect(await store.verify(token)).to.have.property('id', id);
  });

  it('checks store options when the store is built', () => {
    const url = testRedisUrl();
    const bad: Array<[object, typeof TypeError | typeof RangeError]> = [
      [{ ttl: 0 }, RangeError],
      [{ ttl: '1' }, TypeError],
      [{ touchInterval: -1 }, RangeError],
      [{ maxLifetime: 0 }, RangeError],
      [{ maxTokensPerUser: 0 }, RangeError],
      [{ onLimit: 'drop' }, RangeError],
      [{ keyPrefix: 'a{b}' }, RangeError],
      [{ tokenPrefix: 'MT_' }, RangeError],
      [{ resetTtlOnLogin: 'yes' }, TypeError],
      [{ timeout: 0 }, RangeError],
      [{ redis: 42 }, TypeError],
      [{ redis: 'http://localhost' }, RangeError],
    ];
    for (const [options, type] of bad) {
      expect(
        () => new TokenStore({ redis: url, ...options } as never),
        JSON.stringify(options),
      ).to.throw(type);
    }
    expect(() => new TokenStore(null as never)).to.throw(InvalidArgumentTypeError);
    expect(() => new TokenStore({ ttl: -5 })).to.throw(InvalidArgumentRangeError, /ttl/);
  });
});

function manyEntries(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));
}
