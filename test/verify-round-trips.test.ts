import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { TokenStore, type TokenStoreOptions } from '../lib/index.js';
import { type RedisServer, rawClient, startRedisServer } from './helpers/index.js';

/** Calls of each command since the last reset, as `INFO commandstats` counts them. */
async function commandCounts(client: Redis): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const match of (await client.info('commandstats')).matchAll(/cmdstat_(\S+?):calls=(\d+)/g)) {
    counts.set(match[1], Number(match[2]));
  }
  return counts;
}

describe('verify round trips, counted by Redis itself', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let admin: Redis;

  before(async () => {
    server = await startRedisServer();
    admin = rawClient(server.url);
  });

  after(async () => {
    await admin.quit();
    await server.stop();
  });

  /** Issues a token, then counts what `runs` verifies of it cost on a private server. */
  async function countVerifies(options: TokenStoreOptions, runs: number) {
    const store = new TokenStore({ redis: server.url, ...options });
    try {
      const { token } = await store.issue('alice', { device: 'phone' });
      await store.verify(token);
      await admin.config('RESETSTAT');
      for (let i = 0; i < runs; i++) expect(await store.verify(token)).to.not.equal(null);
      const counts = await commandCounts(admin);
      const scripts = (counts.get('evalsha') ?? 0) + (counts.get('eval') ?? 0);
      return { reads: counts.get('hmget') ?? 0, scripts, counts };
    } finally {
      await store.close();
    }
  }

  it('sends exactly one command per verify, with no write inside touchInterval', async () => {
    const { reads, scripts, counts } = await countVerifies(
      { slidingTtl: true, touchInterval: 60 },
      25,
    );
    expect(reads).to.equal(25);
    expect(scripts).to.equal(0);
    expect(counts.get('hset') ?? 0).to.equal(0);
    expect((counts.get('pexpire') ?? 0) + (counts.get('pexpireat') ?? 0)).to.equal(0);
  });

  it('adds one write per verify only when every verify is due one (touchInterval 0)', async () => {
    const { reads, scripts, counts } = await countVerifies(
      { slidingTtl: true, touchInterval: 0 },
      25,
    );
    // commandstats also counts the commands a script runs: each touch reads the record once.
    expect(scripts).to.equal(25);
    expect(reads - scripts).to.equal(25);
    expect(counts.get('pexpireat')).to.be.at.least(25);
  });
});
