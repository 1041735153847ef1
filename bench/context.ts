/** What every section of the benchmark is given. */
export interface BenchContext {
  /** The redis-server the benchmark started for itself. */
  url: string;
  port: number;
  quick: boolean;
  /** Interleaved rounds per measurement; each row reports the median. */
  rounds: number;
  /** Milliseconds each store-level measurement runs. */
  ms: number;
}
