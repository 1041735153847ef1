import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { NotDurableError, TokenStore } from '../lib/index.js';
import {
  describeRun,
  expectFailedClosed,
  isolateReplica,
  RECOMMENDED_SENTINEL_OPTIONS,
  runFault,
  type SentinelDeployment,
  seedTokens,
  startSentinelDeployment,
  waitFor,
  wrongAnswers,
} from './helpers/index.js';

const TIMEOUT = 1000;
const SLACK = 500;

describe('a Sentinel set-up that loses its master under load', function () {
  this.timeout(90_000);
  let deployment: SentinelDeployment | undefined;
  const clients: Redis[] = [];
  const stores: TokenStore[] = [];

  before(async () => {
    deployment = await startSentinelDeployment({ downAfter: 1000 });
  });

  after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
    await deployment?.stop();
  });

  function storeOn(client: Redis): TokenStore {
    clients.push(client);
    const store = new TokenStore({ redis: client, timeout: TIMEOUT, durable: 1 });
    stores.push(store);
    return store;
  }

  it('fails with 503 until the Sentinels promote the replica, then serves all', async () => {
    const sentinel = deployment as SentinelDeployment;
    await sentinel.revive();
    const recommended = storeOn(sentinel.connect(RECOMMENDED_SENTINEL_OPTIONS));
    const defaults = storeOn(sentinel.connect());
    // Durable: every token and revocation is on the replica before the master dies.
    const tokens = await seedTokens(recommended, 60);
    const victim = await sentinel.master();

    const run = await runFault([recommended, defaults], tokens, {
      inject: () => victim.kill(),
      async heal() {
        await waitFor(
          'the Sentinels to name a new master',
          async () => {
            return (await sentinel.master()) !== victim;
          },
          { timeout: 20_000, interval: 50 },
        );
        return Date.now();
      },
    });

    console.log(`      ${describeRun('Sentinel, recommended options', run, run.reports[0])}`);
    console.log(`      ${describeRun('Sentinel, ioredis defaults', run, run.reports[1])}`);
    expectFailedClosed(run, TIMEOUT + SLACK);
    for (const report of run.reports) {
      expect((report.resumedAt as number) - run.backAt, 'recovery (ms)').to.be.at.most(5000);
    }
    expect(await wrongAnswers(recommended, tokens)).to.deep.equal([]);
    expect(await wrongAnswers(defaults, tokens)).to.deep.equal([]);
  });

  it('loses a token issued without durable in a failover, never a durable one', async () => {
    const sentinel = deployment as SentinelDeployment;
    await sentinel.revive();
    const store = storeOn(sentinel.connect(RECOMMENDED_SENTINEL_OPTIONS));
    const kept = await store.issue('carol', { device: 'phone' });
    const master = await sentinel.master();
    const replica = sentinel.servers.find((server) => server !== master);
    if (replica === undefined) throw new Error('the Sentinel set-up has no replica');

    const resume = await isolateReplica(master, replica);
    let refused: unknown;
    let lost: { token: string } | undefined;
    try {
      const durable = { replicas: 1, timeout: 200 };
      refused = await store.issue('carol', { device: 'laptop', durable }).catch((err) => err);
      lost = await store.issue('carol', { device: 'tablet', durable: 0 });
      expect(await store.verify(lost.token)).to.not.equal(null);
      await master.kill();
    } finally {
      resume();
    }
    expect(refused).to.be.instanceOf(NotDurableError);

    await waitFor(
      'the Sentinels to name a new master',
      async () => {
        return (await sentinel.master()) === replica;
      },
      { timeout: 20_000, interval: 50 },
    );
    await waitFor(
      'the store to answer again',
      async () => (await store.verify(kept.token)) !== null,
      {
        timeout: 10_000,
      },
    );
    // The token the master acknowledged alone is gone; the durable ones are all there.
    expect(await store.verify((lost as { token: string }).token)).to.equal(null);
    expect((await store.list('carol')).map((token) => token.device)).to.deep.equal(['phone']);
  });
});
