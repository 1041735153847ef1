import { expect } from 'chai';
import { Redis } from 'ioredis';
import { TokenStore } from '../lib/index.js';
import {
  closeAll,
  describeRun,
  expectFailedClosed,
  RECOMMENDED_REDIS_OPTIONS,
  type RedisServer,
  runFault,
  seedTokens,
  startRedisServer,
  track,
  trackClient,
  uniquePrefix,
  waitFor,
  wrongAnswers,
} from './helpers/index.js';

const TIMEOUT = 1000;
// Room for a busy machine between the store's deadline and the test seeing the rejection.
const SLACK = 500;
const PERSISTENT = ['--appendonly', 'yes', '--appendfsync', 'always'];

describe('a single Redis that goes away under load', function () {
  this.timeout(60_000);
  let server: RedisServer | undefined;

  before(async () => {
    server = await startRedisServer(PERSISTENT);
  });

  after(async () => {
    await server?.stop();
  });

  afterEach(closeAll);

  /** A store on a connection of its own, and one on an app's client with recommended options. */
  function stores(): TokenStore[] {
    const url = (server as RedisServer).url;
    const own = track(new TokenStore({ redis: url, keyPrefix: uniquePrefix(), timeout: TIMEOUT }));
    const client = trackClient(new Redis(url, RECOMMENDED_REDIS_OPTIONS));
    client.on('error', () => {});
    const app = new TokenStore({ redis: client, keyPrefix: own.keyPrefix, timeout: TIMEOUT });
    return [own, track(app)];
  }

  it('fails with 503 while Redis is down, and recovers within 2 s of its restart', async () => {
    const redis = server as RedisServer;
    const [own, app] = stores();
    const tokens = await seedTokens(own, 30);

    const run = await runFault([own, app], tokens, {
      inject: () => redis.kill(),
      async heal(faultAt) {
        // Down long enough for ioredis's reconnect back-off to grow, and for failures to pile up.
        await waitFor('two seconds of outage', () => Date.now() - faultAt >= 2000, {
          timeout: 5000,
        });
        await redis.restart();
        return Date.now();
      },
    });

    console.log(`      ${describeRun('store-made connection', run, run.reports[0])}`);
    console.log(`      ${describeRun('app client, recommended options', run, run.reports[1])}`);
    expectFailedClosed(run, TIMEOUT + SLACK);
    for (const report of run.reports) {
      expect((report.resumedAt as number) - run.backAt, 'recovery (ms)').to.be.at.most(2000);
    }
    // The append-only file kept every token and every revocation across the crash.
    expect(await wrongAnswers(own, tokens)).to.deep.equal([]);
  });

  it('fails verifies with 503 while Redis is frozen, and recovers when it runs again', async () => {
    const redis = server as RedisServer;
    const [own, app] = stores();
    const tokens = await seedTokens(own, 30);

    const run = await runFault([own, app], tokens, {
      inject: async () => redis.pause(),
      async heal(faultAt) {
        await waitFor('two seconds of outage', () => Date.now() - faultAt >= 2000, {
          timeout: 5000,
        });
        redis.resume();
        return Date.now();
      },
    });

    console.log(`      ${describeRun('frozen, store-made connection', run, run.reports[0])}`);
    expectFailedClosed(run, TIMEOUT + SLACK);
    for (const report of run.reports) {
      expect((report.resumedAt as number) - run.backAt, 'recovery (ms)').to.be.at.most(2000);
    }
  });

  it('keeps tokens across a crash with appendonly, and loses them without', async () => {
    const bare = await startRedisServer();
    try {
      const durableStore = track(new TokenStore({ redis: (server as RedisServer).url }));
      const bareStore = track(new TokenStore({ redis: bare.url }));
      const kept = await durableStore.issue('alice');
      const lost = await bareStore.issue('alice');

      await Promise.all([(server as RedisServer).kill(), bare.kill()]);
      await Promise.all([(server as RedisServer).restart(), bare.restart()]);

      expect((await durableStore.verify(kept.token))?.userId).to.equal('alice');
      expect(await bareStore.verify(lost.token)).to.equal(null);
    } finally {
      await bare.stop();
    }
  });
});
