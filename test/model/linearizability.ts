import {
  type Coverage,
  EXPIRY_SLACK,
  type Execution,
  type InfoView,
  type ModelState,
  type Outcome,
  type RevokedEvent,
} from './reference-model.js';

/*
 * Checks what the store did against the reference model. The model is kept as a set of
 * possible states ("paths"): usually one, more only when an operation ran so close to an
 * expiry that either outcome was right. A step of several concurrent operations passes
 * when some order of them, each at some time inside its measured window, explains every
 * result and every `revoked` event; the step fails when no path survives.
 */

/** One way the history so far can be explained. */
export interface Path {
  state: ModelState;
  /** Redis time of the latest operation placed so far: later ones cannot run before it. */
  floor: number;
}

/** A reported expiry may be this many ms off besides: PTTL and TIME are both truncated. */
const EXPIRY_TOLERANCE = 3;
const MAX_PATHS = 256;

/** The paths that explain this step; empty when nothing does. */
export function explainStep(
  paths: Path[],
  execs: Execution[],
  observedEvents: RevokedEvent[],
  coverage?: Coverage,
): Path[] {
  const wanted = eventsKey(observedEvents);
  const survivors = new Map<string, Path>();

  let notes: string[] | undefined;
  const visit = (
    path: Path,
    remaining: number[],
    events: RevokedEvent[],
    applied: string[],
  ): void => {
    if (remaining.length === 0) {
      if (eventsKey(events) !== wanted) return;
      const key = path.state.key();
      const known = survivors.get(key);
      if (known === undefined || known.floor > path.floor) survivors.set(key, path);
      notes ??= applied;
      return;
    }
    for (const index of remaining) {
      const exec = execs[index];
      const window = timeWindow(exec, path.floor);
      if (window === null) continue;
      const rest = remaining.filter((other) => other !== index);
      for (const t of path.state.candidateTimes(window.lo, window.hi)) {
        const state = path.state.clone();
        const predicted = state.apply(exec, t);
        if (!sameOutcome(predicted.outcome, exec.outcome, exec.end - exec.start)) continue;
        const floor = Math.max(path.floor, exec.now ?? t);
        visit(
          { state, floor },
          rest,
          [...events, ...predicted.events],
          [...applied, ...state.notes],
        );
      }
    }
  };

  const order = execs.map((_, index) => index);
  for (const path of paths) visit(path, order, [], []);
  if (coverage !== undefined) {
    for (const note of notes ?? []) tally(coverage, note);
    if (execs.length > 1) tally(coverage, `batches of ${execs.length} checked`);
    if (survivors.size > 1) tally(coverage, 'steps left ambiguous by an expiry');
  }
  if (survivors.size > MAX_PATHS) {
    throw new Error(`the model branched into ${survivors.size} states; shorten the sequences`);
  }
  return [...survivors.values()];
}

/**
 * The Redis times at which an operation may have seen its keys: Redis decides expiry at the
 * moment a script starts, which lies after the call was sent and after the operation placed
 * before it, and no later than the `TIME` the script read (or the answer arrived).
 */
function timeWindow(exec: Execution, floor: number): { lo: number; hi: number } | null {
  const lo = Math.max(exec.start, floor) - EXPIRY_SLACK;
  const hi = (exec.now ?? exec.end) + EXPIRY_SLACK;
  return lo <= hi ? { lo, hi } : null;
}

/**
 * Whether the model's outcome `a` matches the observed `b`. A reported expiry is `TIME` plus
 * `PTTL`, read at two moments of one script, so it may fall short of the real one by as
 * long as the script ran: at most `duration`, the time the whole call took.
 */
export function sameOutcome(a: Outcome, b: Outcome, duration: number): boolean {
  const close = (model: number | null, seen: number | null) =>
    model === null || seen === null
      ? model === seen
      : seen >= model - duration - EXPIRY_TOLERANCE && seen <= model + EXPIRY_TOLERANCE;
  const sameInfo = (model: InfoView | null, seen: InfoView | null) => {
    if (model === null || seen === null) return model === seen;
    const { expiresAt: modelExpiry, ...modelRest } = model;
    const { expiresAt: seenExpiry, ...seenRest } = seen;
    return close(modelExpiry, seenExpiry) && JSON.stringify(modelRest) === JSON.stringify(seenRest);
  };
  switch (a.kind) {
    case 'issued':
      return (
        b.kind === 'issued' &&
        a.id === b.id &&
        a.first === b.first &&
        close(a.expiresAt, b.expiresAt)
      );
    case 'info':
      return b.kind === 'info' && sameInfo(a.info, b.info);
    case 'boolean':
    case 'count':
      return b.kind === a.kind && a.value === b.value;
    case 'list':
      return (
        b.kind === 'list' &&
        a.infos.length === b.infos.length &&
        a.infos.every((info, i) => sameInfo(info, b.infos[i]))
      );
    case 'error':
      return b.kind === 'error' && a.code === b.code;
  }
}

function eventsKey(events: RevokedEvent[]): string {
  return JSON.stringify(events.map((e) => `${e.reason} ${e.userId} ${e.id}`).sort());
}

/** A readable account of a step no path explains: what the first path predicted, in order. */
export function describeMismatch(
  paths: Path[],
  execs: Execution[],
  observedEvents: RevokedEvent[],
): string {
  const lines = [`no order of this step is explained by the model (${paths.length} state(s))`];
  const path = paths[0];
  if (path === undefined) return lines.join('\n');
  const state = path.state.clone();
  const events: RevokedEvent[] = [];
  for (const exec of execs) {
    const window = timeWindow(exec, path.floor);
    const t = window?.lo ?? exec.start;
    const predicted = state.apply(exec, t);
    events.push(...predicted.events);
    lines.push(
      `  op       ${JSON.stringify(exec.op)}`,
      `  window   ${window ? `${window.lo}..${window.hi}` : 'none'} (redis now ${exec.now})`,
      `  observed ${JSON.stringify(exec.outcome)}`,
      `  model    ${JSON.stringify(predicted.outcome)}`,
    );
  }
  lines.push(
    `  events observed ${eventsKey(observedEvents)}`,
    `  events model    ${eventsKey(events)}`,
  );
  lines.push(`  model tokens before the step: ${path.state.key()}`);
  return lines.join('\n');
}

function tally(coverage: Coverage, rule: string): void {
  coverage.set(rule, (coverage.get(rule) ?? 0) + 1);
}
