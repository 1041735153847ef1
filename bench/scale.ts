import { Redis } from 'ioredis';
import { TokenStore } from '../lib/index.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import type { BenchContext } from './context.js';
import { loadTokens } from './load-tokens.js';
import { elapsed, interleave, median, rate } from './measure.js';
import type { Row } from './report.js';

const PREFIX = 'mt:';

/** Fails the benchmark when the loader wrote something the store does not accept. */
async function checkLoaded(store: TokenStore, tokens: string[]): Promise<void> {
  const infos = await Promise.all(tokens.slice(0, 200).map((token) => store.verify(token)));
  if (infos.some((info) => info === null)) {
    throw new Error('loaded tokens do not verify: bench/load-tokens.ts no longer matches');
  }
}

/** Row 4: verify with few and with very many tokens stored; revokeAll of large users. */
export async function scale(ctx: BenchContext): Promise<Row[]> {
  const big = ctx.quick ? 100_000 : 1_000_000;
  const small = await startRedisServer();
  const large = await startRedisServer();
  const smallRedis = new Redis(small.url);
  const largeRedis = new Redis(large.url);
  const smallStore = new TokenStore({ redis: smallRedis, keyPrefix: PREFIX });
  const largeStore = new TokenStore({ redis: largeRedis, keyPrefix: PREFIX });
  try {
    const ids = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
    const fewTokens = (await loadTokens(smallRedis, PREFIX, ids(100, 'user'), 10, 10)).flatMap(
      (u) => u.tokens,
    );
    const loadStart = performance.now();
    const manyTokens: string[] = [];
    for (const chunk of await loadTokens(largeRedis, PREFIX, ids(big / 10, 'user'), 10, 1)) {
      if (manyTokens.length < 1000) manyTokens.push(...chunk.tokens);
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    await checkLoaded(smallStore, fewTokens);
    await checkLoaded(largeStore, manyTokens);

    const pick = (tokens: string[]) => tokens[Math.floor(Math.random() * tokens.length)];
    const verifyRates = await interleave(ctx.rounds, {
      few: () => rate(() => smallStore.verify(pick(fewTokens)), ctx.ms),
      many: () => rate(() => largeStore.verify(pick(manyTokens)), ctx.ms),
    });
    const few = median(verifyRates.few);
    const many = median(verifyRates.many);

    // revokeAll of users holding 1,000 and 10,000 tokens, alone and beside many others.
    let n = 0;
    const revokeAllOf = async (redis: Redis, store: TokenStore, count: number) => {
      const [user] = await loadTokens(redis, PREFIX, [`heavy-${n++}`], count, 20);
      await checkLoaded(store, user.tokens);
      let revoked = 0;
      const ms = await elapsed(async () => {
        revoked = await store.revokeAll(user.userId);
      });
      if (revoked !== count) throw new Error(`revokeAll revoked ${revoked} of ${count}`);
      return ms;
    };
    const revokeTimes = await interleave(ctx.rounds, {
      small1k: () => revokeAllOf(smallRedis, smallStore, 1000),
      small10k: () => revokeAllOf(smallRedis, smallStore, 10_000),
      large10k: () => revokeAllOf(largeRedis, largeStore, 10_000),
    });
    const r1k = median(revokeTimes.small1k);
    const r10k = median(revokeTimes.small10k);
    const r10kLarge = median(revokeTimes.large10k);

    const bigLabel = big.toLocaleString('en-US');
    return [
      { section: '4', name: 'verify rate, 1,000 tokens stored', value: few, unit: 'calls/s' },
      {
        section: '4',
        name: `verify rate, ${bigLabel} tokens stored`,
        value: many,
        unit: 'calls/s',
        ratio: many / few,
        versus: '1,000 stored',
        note: `loaded in ${loadSeconds.toFixed(1)} s`,
        target: '>= 0.9x',
        met: many / few >= 0.9,
      },
      { section: '4', name: 'revokeAll, user with 1,000 tokens', value: r1k, unit: 'ms' },
      {
        section: '4',
        name: 'revokeAll, user with 10,000 tokens',
        value: r10k,
        unit: 'ms',
        ratio: r10k / r1k,
        versus: '1,000 tokens',
        target: 'linear (~10x)',
        met: r10k / r1k <= 15,
      },
      {
        section: '4',
        name: `revokeAll, user with 10,000 tokens, ${bigLabel} others stored`,
        value: r10kLarge,
        unit: 'ms',
        ratio: r10kLarge / r10k,
        versus: 'alone',
        target: 'independent (~1x)',
        met: r10kLarge / r10k <= 1.5,
      },
    ];
  } finally {
    await Promise.all([smallStore.close(), largeStore.close()]);
    smallRedis.disconnect();
    largeRedis.disconnect();
    await Promise.all([small.stop(), large.stop()]);
  }
}
