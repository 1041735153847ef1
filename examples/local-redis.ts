import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/**
 * Starts a throw-away redis-server on a free loopback port for the examples, keeping nothing
 * on disk, and resolves with its URL once it answers. `stop()` ends it.
 */
export async function startLocalRedis(): Promise<{ url: string; stop(): void }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
    probe.on('error', reject);
  });
  let child: ChildProcess;
  try {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', ''], {
      stdio: 'ignore',
    });
  } catch (err) {
    throw new Error('redis-server is not installed (apt-get install redis-server)', { cause: err });
  }
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', () =>
      reject(new Error('redis-server is not installed (apt-get install redis-server)')),
    );
  });

  const url = `redis://127.0.0.1:${port}`;
  await Promise.race([answers(url), spawnError]);
  return { url, stop: () => child.kill() };
}

/** Resolves once a server at `url` answers PING; polls for up to 10 seconds. */
async function answers(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no redis-server answered at ${url}`);
}
