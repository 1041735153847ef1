import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A redis-server this test run started on a loopback port, and may therefore flush and stop. */
export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** The running process; a new one after `restart`. */
  readonly process: ChildProcess;
  /** False once the process was killed or exited, until `restart`. */
  readonly running: boolean;
  /** Stops the process with `signal`, keeping its directory so `restart` finds its files. */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Freezes the process (SIGSTOP): its port stays open but it answers nothing. */
  pause(): void;
  /** Lets a paused process run on (SIGCONT). */
  resume(): void;
  /** Starts the killed server again on the same port, directory and arguments. */
  restart(): Promise<void>;
  /** Kills the process and removes its directory. */
  stop(): Promise<void>;
}

/*
 * Every redis-server the run started and that is still alive. A run that ends without its
 * `after` hooks (a crash, a failed hook, a signal) still kills them on the way out.
 */
const alive = new Set<ChildProcess>();
/** The directories of servers not stopped yet, removed on the way out too. */
const dirs = new Set<string>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const running of alive) running.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  // A run stopped from outside (a CI time limit) gets no 'exit' event; kill, then die as asked.
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `check` every `interval` ms until it returns true, or throws after `timeout` ms. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeout = 10_000, interval = 20 } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

export async function ping(port: number): Promise<boolean> {
  return (await query(port, 'PING').catch(() => null)) === 'PONG';
}

/** Sends one command to the server on `port` over a connection of its own, without retries. */
export async function query(port: number, ...args: Array<string | number>): Promise<unknown> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 2000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const [name, ...rest] = args;
    return await client.call(String(name), ...rest);
  } finally {
    client.disconnect();
  }
}

/** One section of INFO from the server on `port`, as a map of field to value. */
export async function info(port: number, section: string): Promise<Record<string, string>> {
  const text = String(await query(port, 'INFO', section));
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

/**
 * Starts a redis-server on a free loopback port, keeping nothing on disk unless `args` ask
 * for it, and resolves once it answers PING.
 */
export async function startRedisServer(
  args: string[] = [],
  fixedPort?: number,
): Promise<RedisServer> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mt-redis-'));
  const argv = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...args,
  ];
  return launchRedis(argv, port, dir);
}

/**
 * Runs `redis-server argv` (a Sentinel too: a config file and `--sentinel`) that listens on
 * `port` and keeps its files in `dir`, and resolves once it answers PING. `stop` removes `dir`.
 */
export async function launchRedis(argv: string[], port: number, dir: string): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  let exited = true;

  async function start(): Promise<void> {
    const spawned = spawn('redis-server', argv, { stdio: 'ignore' });
    child = spawned;
    exited = false;
    trackChild(spawned);
    spawned.once('exit', () => {
      if (child === spawned) exited = true;
    });
    await waitFor(`redis-server on port ${port}`, async () => {
      if (exited) throw new Error('redis-server exited');
      return ping(port);
    });
  }

  async function kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    if (exited || child === undefined) return;
    const running = child;
    running.kill('SIGCONT');
    const gone = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await gone;
  }

  dirs.add(dir);
  try {
    await start();
  } catch (err) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
    throw err;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get process() {
      return child as ChildProcess;
    },
    get running() {
      return !exited;
    },
    kill,
    pause() {
      if (!exited) child?.kill('SIGSTOP');
    },
    resume() {
      if (!exited) child?.kill('SIGCONT');
    },
    async restart() {
      if (!exited) throw new Error(`redis-server on port ${port} is still running`);
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}

/**
 * Cuts a replica off from its master: freezes the replica, then has the master drop its
 * replication link, so the master's next writes reach no replica. The returned function
 * lets the replica run again.
 */
export async function isolateReplica(
  master: RedisServer,
  replica: RedisServer,
): Promise<() => void> {
  replica.pause();
  try {
    await query(master.port, 'CLIENT', 'KILL', 'TYPE', 'replica');
  } catch (err) {
    replica.resume();
    throw err;
  }
  return () => replica.resume();
}
