import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { RedisMultiTokenStrategy } from '../lib/index.js';
import { formatToken, newTokenId } from '../lib/token-format.js';
import { badRequestArb, expectedAnswer, requestBytes } from './fuzz/bad-requests.js';
import { startExpressApp, type TestApp } from './helpers/express-app.js';
import { fastCheckRuns } from './helpers/fast-check-env.js';
import { type RedisServer, startRedisServer, uniquePrefix } from './helpers/index.js';
import { sendRaw } from './helpers/raw-http.js';

/*
 * Fuzzes the HTTP layer with malformed requests sent as raw bytes to an Express 5 app, on a
 * redis-server of its own so that INFO commandstats counts this traffic alone.
 * HTTP_FUZZ_RUNS sets how many (npm test: 1,000); HTTP_FUZZ_SEED and _PATH replay a failure.
 */
const settings = fastCheckRuns('HTTP_FUZZ', 1000);
const runs = settings.numRuns ?? 0;

/** Calls per command since the last CONFIG RESETSTAT, leaving out our own CONFIG and INFO. */
async function commandCalls(admin: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const match of (await admin.info('commandstats')).matchAll(
    /^cmdstat_([^:]+):calls=(\d+)/gm,
  )) {
    const command = match[1].split('|')[0];
    if (command !== 'config' && command !== 'info') calls[match[1]] = Number(match[2]);
  }
  return calls;
}

function rawRequest(lines: string[]): Buffer {
  return Buffer.from(
    `${['GET /me HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', ...lines].join('\r\n')}` +
      '\r\n\r\n',
  );
}

describe('the bearer strategy under malformed requests', function () {
  this.timeout(0);
  let redis: RedisServer;
  let admin: Redis;
  let strategy: RedisMultiTokenStrategy;
  let app: TestApp;

  before(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
    strategy = new RedisMultiTokenStrategy({ redis: redis.url, keyPrefix: uniquePrefix() });
    app = await startExpressApp(strategy);
    // Loads the scripts, so later counts hold no one-off SCRIPT LOAD or NOSCRIPT retry.
    await strategy.store.verify(formatToken('mt_', 'AAAA', newTokenId()));
  });

  after(async () => {
    await app?.close();
    await strategy?.store.close();
    await admin?.quit();
    await redis?.stop();
  });

  it(`answers ${runs} bad requests with the right 400 or 401, asking Redis nothing`, async () => {
    await admin.config('RESETSTAT');
    const tally = new Map<string, Map<string, number>>();
    await fc.assert(
      fc.asyncProperty(badRequestArb, async (req) => {
        const { head, body } = requestBytes(req);
        const res = await sendRaw(app.port, Buffer.concat([head, body]));
        const expected = expectedAnswer(req);
        const by = res.headers['x-powered-by'] === 'Express' ? 'app' : 'node';
        expect({ by, status: res.status }, req.category).to.deep.equal({
          by: expected.by,
          status: expected.status,
        });
        if (expected.challenge !== undefined) {
          expect(res.headers['www-authenticate']).to.equal(expected.challenge);
        }
        const row = tally.get(req.category) ?? new Map<string, number>();
        row.set(`${by} ${res.status}`, (row.get(`${by} ${res.status}`) ?? 0) + 1);
        tally.set(req.category, row);
      }),
      settings,
    );

    expect(app.errors).to.deep.equal([]);
    expect(await commandCalls(admin)).to.deep.equal({});
    const me = await sendRaw(app.port, rawRequest([]));
    expect(me.status, 'the app still answers').to.equal(401);

    const columns = ['node 400', 'node 431', 'app 400', 'app 401'];
    console.log(`      ${'category'.padEnd(22)}${columns.map((c) => c.padStart(10)).join('')}`);
    const totals = columns.map(() => 0);
    for (const [category, row] of [...tally].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const counts = columns.map((c) => row.get(c) ?? 0);
      counts.forEach((n, i) => {
        totals[i] += n;
      });
      console.log(
        `      ${category.padEnd(22)}${counts.map((n) => String(n).padStart(10)).join('')}`,
      );
    }
    console.log(`      ${'total'.padEnd(22)}${totals.map((n) => String(n).padStart(10)).join('')}`);
  });

  it('counts the one Redis command a well-formed unknown token costs', async () => {
    await admin.config('RESETSTAT');
    const token = formatToken('mt_', 'AAAA', newTokenId());
    const res = await sendRaw(app.port, rawRequest([`Authorization: Bearer ${token}`]));
    expect(res.status).to.equal(401);
    // A verify is one plain read of the record; an unknown token needs no write.
    expect(await commandCalls(admin)).to.deep.equal({ hmget: 1 });
  });

  it('refuses two Authorization headers even when both carry a valid token', async () => {
    const { token } = await strategy.store.issue('alice');
    const once = await sendRaw(app.port, rawRequest([`Authorization: Bearer ${token}`]));
    expect(once.status).to.equal(200);
    const twice = await sendRaw(
      app.port,
      rawRequest([`Authorization: Bearer ${token}`, `authorization: Bearer ${token}`]),
    );
    expect(twice.status).to.equal(400);
  });
});
