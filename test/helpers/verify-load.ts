import type { TokenStore } from '../../lib/index.js';
import { RedisUnavailableError } from '../../lib/index.js';

/** A token the load verifies, and what a correct answer for it is. */
export interface LoadToken {
  token: string;
  /** The owner for a live token; `null` for a revoked one, which must never verify. */
  userId: string | null;
}

/** One verify of the load: when it started and ended (ms since the epoch) and its outcome. */
export interface LoadCall {
  start: number;
  end: number;
  outcome:
    | 'accepted'
    | 'rejected'
    | 'false-accept'
    | 'false-reject'
    | 'unavailable'
    | 'other-error';
}

export interface LoadOptions {
  /** Verifies in flight at once. */
  concurrency?: number;
  /** Milliseconds each worker rests between two calls, to keep the load bounded. */
  pause?: number;
  /** Hard limits: the load stops by itself after this many calls or milliseconds. */
  maxCalls?: number;
  maxDuration?: number;
}

/** What a load saw. */
export interface LoadReport {
  calls: LoadCall[];
  counts: Record<LoadCall['outcome'], number>;
  /** The longest a failed call took, in ms. */
  slowestFailure: number;
  /** Epoch ms from which on every call started succeeded; `null` if the last call failed. */
  recoveredAt: number | null;
}

/** A running verify load against a store. */
export interface VerifyLoad {
  /** Everything seen so far. */
  report(): LoadReport;
  /** Stops the workers and resolves once the calls in flight have settled. */
  stop(): Promise<LoadReport>;
}

/**
 * Verifies `tokens` round-robin from `concurrency` workers, each call classified against
 * the expected answer. Bounded in calls and time whether or not `stop` is called.
 */
export function startVerifyLoad(
  store: TokenStore,
  tokens: LoadToken[],
  options: LoadOptions = {},
): VerifyLoad {
  const concurrency = options.concurrency ?? 8;
  const pause = options.pause ?? 5;
  const maxCalls = options.maxCalls ?? 200_000;
  const stopAt = Date.now() + (options.maxDuration ?? 60_000);
  const calls: LoadCall[] = [];
  let next = 0;
  let stopped = false;

  async function worker(): Promise<void> {
    while (!stopped && calls.length < maxCalls && Date.now() < stopAt) {
      const expected = tokens[next++ % tokens.length];
      const start = Date.now();
      let outcome: LoadCall['outcome'];
      try {
        const info = await store.verify(expected.token);
        if (info === null) outcome = expected.userId === null ? 'rejected' : 'false-reject';
        else outcome = info.userId === expected.userId ? 'accepted' : 'false-accept';
      } catch (err) {
        const fails503 = err instanceof RedisUnavailableError && err.status === 503;
        outcome = fails503 ? 'unavailable' : 'other-error';
      }
      calls.push({ start, end: Date.now(), outcome });
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  const workers = Array.from({ length: concurrency }, () => worker());

  function report(): LoadReport {
    const counts: LoadReport['counts'] = {
      accepted: 0,
      rejected: 0,
      'false-accept': 0,
      'false-reject': 0,
      unavailable: 0,
      'other-error': 0,
    };
    let slowestFailure = 0;
    let lastFailedStart = -1;
    for (const call of calls) {
      counts[call.outcome]++;
      if (isFailure(call)) {
        slowestFailure = Math.max(slowestFailure, call.end - call.start);
        lastFailedStart = Math.max(lastFailedStart, call.start);
      }
    }
    const after = calls
      .filter((call) => call.start > lastFailedStart)
      .reduce((first, call) => Math.min(first, call.start), Number.POSITIVE_INFINITY);
    return {
      calls: [...calls],
      counts,
      slowestFailure,
      recoveredAt: Number.isFinite(after) ? after : null,
    };
  }

  return {
    report,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return report();
    },
  };
}

function isFailure(call: LoadCall): boolean {
  return call.outcome !== 'accepted' && call.outcome !== 'rejected';
}

/** How many calls that started at or after `since` succeeded, and whether any failed. */
export function successesSince(report: LoadReport, since: number): number {
  const later = report.calls.filter((call) => call.start >= since);
  if (later.some(isFailure)) return 0;
  return later.length;
}
