import { type RedisServer, startRedisServer } from './redis-server.js';

/*
 * One redis-server for the whole run, started on a free loopback port. Tests point at it
 * through REDIS_URL (so a zero-argument strategy finds it too) and may flush it: it is ours.
 */
let server: RedisServer | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  server = await startRedisServer();
  process.env.REDIS_URL = server.url;
  process.env.TEST_REDIS_PORT = String(server.port);
}

export async function mochaGlobalTeardown(): Promise<void> {
  await server?.stop();
}
