import type { Parameters } from 'fast-check';

/**
 * fast-check settings from the environment, for a property named by `prefix`:
 * `<prefix>_RUNS` (how many cases), and `<prefix>_SEED` with `<prefix>_PATH` to replay the
 * failure fast-check printed (`{ seed: ..., path: "..." }`).
 */
export function fastCheckRuns(prefix: string, defaultRuns: number): Parameters<unknown> {
  const env = (name: string) => process.env[`${prefix}_${name}`];
  const seed = env('SEED');
  const path = env('PATH');
  return {
    numRuns: Number(env('RUNS') ?? defaultRuns),
    seed: seed === undefined ? undefined : Number(seed),
    path,
    // A replay runs the one failing case and does not shrink it again.
    endOnFailure: path !== undefined,
  };
}
