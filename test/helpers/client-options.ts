import type { ClusterOptions, RedisOptions } from 'ioredis';

/*
 * The ioredis options docs/running-at-scale.md recommends for clients an app makes itself,
 * so the fault tests measure what the documentation promises.
 */

/** Fail a command after one reconnect attempt, and try to reconnect at least every 500 ms. */
export const RECOMMENDED_REDIS_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: 1,
  retryStrategy: (times) => Math.min(times * 50, 500),
  connectTimeout: 1000,
};

/** As above, and ask the Sentinels again at least every 500 ms while none answers. */
export const RECOMMENDED_SENTINEL_OPTIONS: RedisOptions = {
  ...RECOMMENDED_REDIS_OPTIONS,
  sentinelRetryStrategy: (times) => Math.min(times * 50, 500),
};

/** Reconnect to a cluster none of whose startup nodes answered at least every 500 ms. */
export const RECOMMENDED_CLUSTER_OPTIONS: ClusterOptions = {
  clusterRetryStrategy: (times) => Math.min(100 + times * 50, 500),
  redisOptions: { connectTimeout: 1000 },
};
