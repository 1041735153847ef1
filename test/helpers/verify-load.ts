import { expect } from 'chai';
import type { IssueOptions, TokenStore } from '../../lib/index.js';
import { RedisUnavailableError } from '../../lib/index.js';
import { waitFor } from './redis-server.js';

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
  /** The longest any call took, in ms. */
  slowestCall: number;
  /** Epoch ms from which on every call started succeeded; `null` if the last call failed. */
  recoveredAt: number | null;
  /**
   * Epoch ms from which on every verify answers correctly: the first answer to a call that
   * started after the last failed one, or the last failure if that came later.
   */
  resumedAt: number | null;
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
    let slowestCall = 0;
    let lastFailedStart = -1;
    let lastFailedEnd = -1;
    for (const call of calls) {
      counts[call.outcome]++;
      slowestCall = Math.max(slowestCall, call.end - call.start);
      if (isFailure(call)) {
        slowestFailure = Math.max(slowestFailure, call.end - call.start);
        lastFailedStart = Math.max(lastFailedStart, call.start);
        lastFailedEnd = Math.max(lastFailedEnd, call.end);
      }
    }
    const later = calls.filter((call) => call.start > lastFailedStart);
    const recoveredAt = later.reduce((min, call) => Math.min(min, call.start), Infinity);
    const firstAnswer = later.reduce((min, call) => Math.min(min, call.end), Infinity);
    return {
      calls: [...calls],
      counts,
      slowestFailure,
      slowestCall,
      recoveredAt: later.length > 0 ? recoveredAt : null,
      resumedAt: later.length > 0 ? Math.max(firstAnswer, lastFailedEnd) : null,
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

/**
 * Issues a token for each of `users` users (`durable` when asked), then revokes every third
 * one, and returns them all with the answer a verify must give.
 */
export async function seedTokens(
  store: TokenStore,
  users: number,
  durable?: IssueOptions['durable'],
): Promise<LoadToken[]> {
  const tokens: LoadToken[] = [];
  for (let i = 0; i < users; i++) {
    const userId = `user-${i}`;
    const { token } = await store.issue(userId, { durable });
    if (i % 3 === 0) await store.revoke(token, { durable });
    tokens.push({ token, userId: i % 3 === 0 ? null : userId });
  }
  return tokens;
}

/** The tokens a store no longer answers for as expected: lost, resurrected or misattributed. */
export async function wrongAnswers(store: TokenStore, tokens: LoadToken[]): Promise<LoadToken[]> {
  const wrong: LoadToken[] = [];
  for (const expected of tokens) {
    const info = await store.verify(expected.token);
    if ((info?.userId ?? null) !== expected.userId) wrong.push(expected);
  }
  return wrong;
}

/** When a fault was injected and when the deployment was serving again, with each load's report. */
export interface FaultRun {
  faultAt: number;
  backAt: number;
  reports: LoadReport[];
}

/**
 * Runs a verify load on each store, breaks the deployment once the loads are warm, and lets
 * `heal` bring it back (it resolves with the epoch ms at which the deployment served again).
 * Resolves once every load has run `settle` ms without a failure after that, or throws.
 */
export async function runFault(
  stores: TokenStore[],
  tokens: LoadToken[],
  fault: { inject(): Promise<void>; heal(faultAt: number): Promise<number> },
  { settle = 1000, timeout = 20_000, concurrency = 4 } = {},
): Promise<FaultRun> {
  const loads = stores.map((store) =>
    startVerifyLoad(store, tokens, { concurrency, maxDuration: timeout + 10_000 }),
  );
  try {
    await waitFor('the load to warm up', () =>
      loads.every((load) => load.report().counts.accepted >= 50),
    );
    const faultAt = Date.now();
    await fault.inject();
    const backAt = await fault.heal(faultAt);
    await waitFor(
      `every verify to succeed for ${settle} ms`,
      () =>
        loads.every((load) => {
          const { resumedAt } = load.report();
          return resumedAt !== null && Date.now() - Math.max(resumedAt, backAt) >= settle;
        }),
      { timeout, interval: 50 },
    );
    return { faultAt, backAt, reports: await Promise.all(loads.map((load) => load.stop())) };
  } finally {
    await Promise.all(loads.map((load) => load.stop()));
  }
}

/** One line of measured figures for the test output. */
export function describeRun(label: string, run: FaultRun, report: LoadReport): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const { counts } = report;
  const resumed = (report.resumedAt ?? Number.NaN) - run.faultAt;
  return (
    `${label}: ${report.calls.length} verifies, ${counts['false-accept']} false accepts, ` +
    `${counts['false-reject']} lost tokens, ${counts.unavailable} x 503 ` +
    `(slowest ${report.slowestFailure} ms), ${counts['other-error']} other errors; ` +
    `back ${seconds(run.backAt - run.faultAt)} after the fault, every verify answered ` +
    `right from ${seconds(resumed)} after it (${seconds(resumed - (run.backAt - run.faultAt))} ` +
    'after it was back)'
  );
}

/**
 * Asserts what an outage must never break: no verify accepted a token it should not, lost
 * a live token, failed with anything but a 503, or took longer than `maxCall` ms.
 */
export function expectFailedClosed(run: FaultRun, maxCall: number): void {
  for (const report of run.reports) {
    expect(report.counts['false-accept'], 'false accepts').to.equal(0);
    expect(report.counts['false-reject'], 'tokens lost').to.equal(0);
    expect(report.counts['other-error'], 'errors other than a 503').to.equal(0);
    expect(report.counts.unavailable, 'verifies failed with 503').to.be.greaterThan(0);
    expect(report.slowestCall, 'slowest verify (ms)').to.be.at.most(maxCall);
  }
}
