/* Timing helpers shared by every section of the benchmark. */

/** The median of a list of numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Calls `op` from `inFlight` concurrent loops for `ms` milliseconds and returns calls per
 * second. Each loop stops at the deadline, so the run is bounded in time.
 */
export async function rate(
  op: () => Promise<unknown>,
  ms: number,
  inFlight = 100,
): Promise<number> {
  let calls = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await op();
        calls++;
      }
    }),
  );
  return calls / ((performance.now() - start) / 1000);
}

/**
 * Runs every named measurement once per round, in turn, for `rounds` rounds, so that a
 * noisy neighbour slows all of them alike; returns each one's list of results.
 */
export async function interleave(
  rounds: number,
  runs: Record<string, () => Promise<number>>,
): Promise<Record<string, number[]>> {
  const results: Record<string, number[]> = Object.fromEntries(
    Object.keys(runs).map((name) => [name, []]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(runs)) results[name].push(await run());
  }
  return results;
}

/** Runs `op` once and returns how long it took in milliseconds. */
export async function elapsed(op: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await op();
  return performance.now() - start;
}

/** Runs `op` for each item with at most `limit` running at once. */
export async function inBatches<T>(
  items: readonly T[],
  limit: number,
  op: (item: T, index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await op(items[index], index);
      }
    }),
  );
}
