import { expect } from 'chai';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { type IssueOptions, TokenStore } from '../lib/index.js';
import { userTag } from '../lib/token-format.js';
import {
  acceptedDevice,
  acceptedMeta,
  acceptedUserId,
  deviceArb,
  metaArb,
  userIdArb,
} from './fuzz/api-inputs.js';
import { fastCheckRuns } from './helpers/fast-check-env.js';
import { keysUnder, rawClient, uniquePrefix } from './helpers/index.js';

/*
 * Fuzzes the store's API with user ids, devices and meta of every shape. API_FUZZ_RUNS sets
 * how many inputs (npm test: 1,000); API_FUZZ_SEED and _PATH replay a failure.
 */
const settings = fastCheckRuns('API_FUZZ', 1000);
const runs = settings.numRuns ?? 0;

/** User ids `user-<n>` that share a slot tag, so their keys share the `{tag}` part. */
function sameTagPairs(count: number): Array<[string, string]> {
  const seen = new Map<string, string>();
  const pairs: Array<[string, string]> = [];
  for (let i = 0; pairs.length < count; i++) {
    const user = `user-${i}`;
    const other = seen.get(userTag(user));
    if (other === undefined) seen.set(userTag(user), user);
    else pairs.push([other, user]);
  }
  return pairs;
}

async function refused(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('the call was accepted');
}

describe('the store API under generated user ids, devices and meta', function () {
  this.timeout(0);
  let client: Redis;

  before(() => {
    client = rawClient();
  });

  after(async () => {
    await client.quit();
  });

  it(`round-trips ${runs} inputs exactly, or refuses them and writes nothing`, async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(userIdArb, deviceArb, metaArb, async (userId, device, meta) => {
        const store = new TokenStore({ redis: client, keyPrefix: uniquePrefix() });
        const user = acceptedUserId(userId);
        const valid = user !== null && acceptedDevice(device) && acceptedMeta(meta);
        const options = { device, meta } as IssueOptions;
        if (!valid) {
          const err = await refused(store.issue(userId as string, options));
          expect(err).to.have.property('code', 'ERR_INVALID_ARGUMENT');
          expect(err instanceof TypeError || err instanceof RangeError).to.equal(true);
          if (user === null) {
            for (const call of [store.list(userId as string), store.revokeAll(userId as string)]) {
              expect(await refused(call)).to.have.property('code', 'ERR_INVALID_ARGUMENT');
            }
          }
          expect(await keysUnder(client, store.keyPrefix)).to.deep.equal([]);
          return;
        }

        accepted++;
        const issued = await store.issue(userId as string, options);
        const info = await store.verify(issued.token);
        expect(info?.userId).to.equal(user);
        expect(info?.device).to.equal(device ?? null);
        expect(Object.entries(info?.meta ?? {})).to.deep.equal(Object.entries(meta ?? {}));
        const listed = await store.list(userId as string);
        expect(listed.map((token) => [token.id, token.userId, token.device])).to.deep.equal([
          [issued.id, user, device ?? null],
        ]);
        const base = `${store.keyPrefix}{${userTag(user)}}:`;
        expect(await keysUnder(client, store.keyPrefix)).to.deep.equal(
          [`${base}t:${issued.id}`, `${base}u:${user}`].sort(),
        );
      }),
      settings,
    );
    console.log(`      ${accepted} of ${runs} inputs were valid and round-tripped`);
    if (runs >= 100) {
      expect(accepted, 'both kinds of input were tried').to.be.within(runs * 0.2, runs * 0.8);
    }
  });

  it(`keeps ${runs} pairs of users from listing or revoking each other's tokens`, async () => {
    const validUser = userIdArb.filter((value) => acceptedUserId(value) !== null);
    const pairs = fc
      .oneof(fc.tuple(validUser, validUser), fc.constantFrom(...sameTagPairs(5)))
      .filter(([a, b]) => acceptedUserId(a) !== acceptedUserId(b));
    await fc.assert(
      fc.asyncProperty(pairs, async ([a, b]) => {
        const store = new TokenStore({ redis: client, keyPrefix: uniquePrefix() });
        const [userA, userB] = [a as string, b as string];
        const mine = await store.issue(userA, { device: 'phone' });
        const theirs = await store.issue(userB, { device: 'phone' });

        expect((await store.verify(mine.token))?.userId).to.equal(acceptedUserId(a));
        expect((await store.list(userB)).map((token) => token.id)).to.deep.equal([theirs.id]);
        expect(await store.revokeById(userB, mine.id)).to.equal(false);
        expect(await store.revokeOthers(userB, theirs.id)).to.equal(0);
        expect(await store.revokeAll(userB)).to.equal(1);
        expect((await store.verify(mine.token))?.userId).to.equal(acceptedUserId(a));
        expect((await store.list(userA)).map((token) => token.id)).to.deep.equal([mine.id]);
      }),
      settings,
    );
  });
});
