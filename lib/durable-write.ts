import type { Cluster } from 'ioredis';
import type { RedisConnection } from './types.js';
import type { DurableWrite } from './validate.js';

/*
 * A durable write sends MULTI, the script, EXEC and WAIT as one pipeline, which ioredis
 * writes to the one node that owns the script's keys. Redis runs them in that order on
 * that connection, so WAIT counts the replicas that hold the script's write and nothing
 * older. The transaction matters on a cluster: a script sent on its own that met a MOVED
 * would be resent to another node after WAIT had already answered for this one, and a
 * NOSCRIPT would be resent after WAIT too. Inside MULTI a redirection aborts the
 * transaction before anything ran, so the whole batch can simply be sent again.
 */

/** The script's reply, and how many replicas acknowledged the write within the timeout. */
export interface DurableReply {
  reply: unknown;
  acknowledged: number;
}

/** A script as the store defines it on its client. */
export interface DurableScript {
  /** The name the script is defined under on the client. */
  name: string;
  lua: string;
  numberOfKeys: number;
}

type Result = [Error | null, unknown];

interface Batch {
  multi(): Batch;
  eval(...args: Array<string | number | Buffer>): Batch;
  exec(): Promise<Result[] | null>;
  wait(replicas: number, timeout: number): Batch;
}

/** Errors a cluster answers before it runs anything, while a slot moves or fails over. */
const NOT_RUN = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;
const RETRY_DELAY = 50;

/**
 * Runs `script` and waits for `durable.replicas` replicas to acknowledge it, retrying
 * while the cluster answers that it did not run the script, until `deadline` (epoch ms).
 */
export async function runDurable(
  redis: RedisConnection,
  script: DurableScript,
  args: Array<string | number | Buffer>,
  durable: DurableWrite,
  deadline: number,
): Promise<DurableReply> {
  // A script the server forgot (SCRIPT FLUSH) is sent whole from then on.
  let sendWhole = false;
  for (;;) {
    if (isCluster(redis)) await slotsKnown(redis);
    const batch = redis.pipeline() as unknown as Batch;
    batch.multi();
    if (sendWhole) batch.eval(script.lua, script.numberOfKeys, ...args);
    else (batch as unknown as Record<string, (...a: unknown[]) => Batch>)[script.name](...args);
    batch.exec();
    batch.wait(durable.replicas, durable.timeout);
    const [, queued, executed, waited] = (await batch.exec()) ?? [];

    const refused = queued?.[0];
    if (refused) {
      if (!NOT_RUN.test(refused.message) || Date.now() + RETRY_DELAY >= deadline) throw refused;
      if (isCluster(redis) && refused.message.startsWith('MOVED')) await refreshSlots(redis);
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY));
      continue;
    }
    if (executed === undefined || executed[0]) throw executed?.[0] ?? new Error('no EXEC reply');
    const reply = (executed[1] as unknown[])[0];
    if (reply instanceof Error) {
      if (!sendWhole && reply.message.startsWith('NOSCRIPT')) {
        sendWhole = true;
        continue;
      }
      throw reply;
    }
    // The write ran; a WAIT that failed (a connection lost just now) confirms no replica.
    const acknowledged = waited === undefined || waited[0] ? 0 : Number(waited[1]);
    return { reply, acknowledged };
  }
}

function isCluster(redis: RedisConnection): redis is Cluster {
  return redis.isCluster === true;
}

/** A pipeline built before the cluster's first slot table would lose the EXEC it holds. */
function slotsKnown(cluster: Cluster): Promise<void> {
  if (cluster.slots.length > 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    cluster.delayUntilReady((err) => (err ? reject(err) : resolve()));
  });
}

function refreshSlots(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
}
