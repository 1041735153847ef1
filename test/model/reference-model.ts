/*
 * A small in-memory reference model of the documented TokenStore semantics, written from the
 * README and the option docs rather than from the scripts. All durations are milliseconds
 * (the stores under test run with `timeUnit: 1`).
 *
 * Time is the one thing the model cannot know in advance: each operation runs at some Redis
 * time `t` inside a window the runner measured. `apply` takes that time as an argument, so
 * the checker can try every distinct `t` in the window (see `candidateTimes`).
 */

/** Store options as the model sees them, all in milliseconds. */
export interface ModelConfig {
  ttl: number | null;
  resetTtlOnLogin: boolean;
  overwriteNullTtl: boolean;
  slidingTtl: boolean;
  touchInterval: number;
  maxLifetime: number | null;
  maxTokensPerUser: number | null;
  onLimit: 'evict-oldest' | 'reject';
}

export interface ModelToken {
  id: string;
  token: string;
  user: string;
  device: string | null;
  created: number;
  used: number;
  /** Last millisecond the token is alive; `null` never expires (unless maxLifetime). */
  expiresAt: number | null;
  /** The per-token ttl given to `issue`: ms, `null` for never, `undefined` for the store's. */
  ownTtl: number | null | undefined;
  meta: Record<string, string>;
  scope: string[];
}

/** `TokenInfo` with dates as milliseconds, so results compare with `===`. */
export interface InfoView {
  id: string;
  userId: string;
  device: string | null;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number | null;
  meta: Record<string, string>;
  scope: string[];
  lastIp: string | null;
  lastUserAgent: string | null;
}

/** An operation with every reference resolved to a concrete token, id or user. */
export type ModelOp =
  | {
      kind: 'issue';
      user: string;
      device?: string;
      ttl?: number | null;
      meta?: Record<string, string>;
      scope?: string[];
    }
  | { kind: 'verify'; token: string; wellFormed: boolean }
  | { kind: 'revoke'; token: string; wellFormed: boolean }
  | { kind: 'revokeById'; user: string; id: string; wellFormed: boolean }
  | { kind: 'revokeAll'; user: string }
  | { kind: 'revokeOthers'; user: string; id: string; wellFormed: boolean }
  | { kind: 'list'; user: string };

/** What an operation returned, or the code of the error it threw. */
export type Outcome =
  | { kind: 'issued'; id: string; first: boolean; expiresAt: number | null }
  | { kind: 'info'; info: InfoView | null }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'count'; value: number }
  | { kind: 'list'; infos: InfoView[] }
  | { kind: 'error'; code: string };

export interface RevokedEvent {
  id: string;
  userId: string;
  reason: string;
}

/** What the runner saw of one operation; `now` is Redis's `TIME` when the script read it. */
export interface Execution {
  op: ModelOp;
  outcome: Outcome;
  /** The new token, for an issue that succeeded. */
  issued?: { id: string; token: string };
  now: number | null;
  /** Local clock before the call and after its answer: the op ran in between. */
  start: number;
  end: number;
}

export interface Prediction {
  outcome: Outcome;
  events: RevokedEvent[];
}

/** Counts of the rules the model applied, to show what a run covered. */
export type Coverage = Map<string, number>;

/**
 * Slack in ms around a token's expiry: a key's TTL is counted from the moment its script
 * started, `TIME` is read a little later and both are truncated to whole milliseconds.
 */
export const EXPIRY_SLACK = 2;

export class ModelState {
  /** Rules applied by this state's last `apply`. */
  notes: string[] = [];

  constructor(
    readonly config: ModelConfig,
    readonly tokens: Map<string, ModelToken> = new Map(),
    /** Ids of tokens the model forgot after they expired, for `notes` only. */
    readonly expired: Set<string> = new Set(),
  ) {}

  clone(): ModelState {
    const copy = new Map<string, ModelToken>();
    for (const [id, token] of this.tokens) copy.set(id, { ...token });
    return new ModelState(this.config, copy, this.expired);
  }

  #note(rule: string): void {
    this.notes.push(rule);
  }

  /** A string that is equal for two states exactly when they hold the same tokens. */
  key(): string {
    return JSON.stringify([...this.tokens.values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
  }

  /**
   * The first millisecond at which a token is dead, or Infinity. Redis keeps a key through
   * the millisecond it expires at, while maxLifetime ends a token at `created + maxLifetime`,
   * where its key expires too. So in that one millisecond issue, verify and list (which check
   * the lifetime) find the token gone, while the revokes (which look at the key) still find it.
   */
  deadFrom(token: ModelToken, checksLifetime = true): number {
    let dead = token.expiresAt === null ? Number.POSITIVE_INFINITY : token.expiresAt + 1;
    if (checksLifetime && this.config.maxLifetime !== null) {
      dead = Math.min(dead, token.created + this.config.maxLifetime);
    }
    return dead;
  }

  isLive(token: ModelToken, t: number, checksLifetime = true): boolean {
    return t < this.deadFrom(token, checksLifetime);
  }

  /** Forgets tokens dead before `t`: time only moves forward, so they stay dead. */
  prune(t: number): void {
    for (const [id, token] of this.tokens) {
      if (this.deadFrom(token, false) >= t - EXPIRY_SLACK) continue;
      this.tokens.delete(id);
      this.expired.add(id);
    }
  }

  /**
   * The distinct times in [lo, hi] at which the op could have run: `lo` and every moment in
   * the window where some token dies. Between two of them the model behaves the same.
   */
  candidateTimes(lo: number, hi: number): number[] {
    const times = new Set<number>([lo]);
    for (const token of this.tokens.values()) {
      for (const dead of [this.deadFrom(token), this.deadFrom(token, false)]) {
        if (dead > lo && dead <= hi) times.add(dead);
      }
    }
    return [...times].sort((a, b) => a - b);
  }

  /** Applies an operation run at Redis time `t`; `exec` supplies what only Redis knows. */
  apply(exec: Execution, t: number): Prediction {
    const op = exec.op;
    this.notes = [];
    switch (op.kind) {
      case 'issue':
        return this.#issue(op, exec, t);
      case 'verify':
        return { outcome: { kind: 'info', info: this.#verify(op, exec, t) }, events: [] };
      case 'revoke': {
        const token = op.wellFormed ? this.#matching(op.token) : undefined;
        const live = token !== undefined && this.isLive(token, t, false);
        if (token !== undefined) this.tokens.delete(token.id);
        this.#note(live ? 'revoke ends a live token' : 'revoke finds no live token');
        return this.#revoked(live && token ? [token] : [], 'logout', live);
      }
      case 'revokeById': {
        const token = op.wellFormed ? this.tokens.get(op.id) : undefined;
        const owned = token !== undefined && token.user === op.user;
        const live = owned && this.isLive(token, t, false);
        if (owned) this.tokens.delete(token.id);
        if (token !== undefined && !owned) this.#note("revokeById refuses another user's token");
        else this.#note(live ? 'revokeById ends a live token' : 'revokeById finds no live token');
        return this.#revoked(live && token ? [token] : [], 'logout', live);
      }
      case 'revokeAll':
        return this.#revokeAllBut(op.user, null, t, 'logout-all');
      case 'revokeOthers':
        if (!op.wellFormed) {
          this.#note('revokeOthers rejects a malformed id');
          return { outcome: { kind: 'error', code: 'ERR_INVALID_ARGUMENT' }, events: [] };
        }
        return this.#revokeAllBut(op.user, op.id, t, 'logout-others');
      case 'list': {
        const infos = this.#owned(op.user)
          .filter((token) => this.isLive(token, t))
          .sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : 1))
          .map((token) => this.#info(token));
        this.#note(`list shows ${howMany(infos.length)}`);
        return { outcome: { kind: 'list', infos }, events: [] };
      }
    }
  }

  #issue(op: Extract<ModelOp, { kind: 'issue' }>, exec: Execution, t: number): Prediction {
    const { config } = this;
    const device = op.device ?? null;
    const live: ModelToken[] = [];
    const replaced: ModelToken[] = [];
    for (const token of this.#owned(op.user)) {
      if (!this.isLive(token, t)) {
        this.#note('issue skips a dead token');
        continue;
      }
      if (device !== null && token.device === device) replaced.push(token);
      else live.push(token);
    }

    const evicted: ModelToken[] = [];
    const limit = config.maxTokensPerUser;
    if (limit !== null && live.length >= limit) {
      if (config.onLimit === 'reject') {
        this.#note('issue rejected at the limit');
        return { outcome: { kind: 'error', code: 'ERR_TOKEN_LIMIT' }, events: [] };
      }
      // Least recently used first; lastUsedAt ties go to the smaller id.
      live.sort((a, b) => a.used - b.used || (a.id < b.id ? -1 : 1));
      evicted.push(...live.splice(0, live.length - limit + 1));
      this.#note('issue evicts the least recently used');
    }
    if (exec.issued === undefined || exec.now === null) {
      // The store answered without a token: only a limit error is possible, and it was not.
      return { outcome: { kind: 'error', code: 'none' }, events: [] };
    }

    const now = exec.now;
    const first = live.length + replaced.length + evicted.length === 0;
    if (replaced.length > 0) this.#note('issue replaces the token of a device');
    this.#note(first ? 'issue is the first' : 'issue is not the first');
    for (const token of [...replaced, ...evicted]) this.tokens.delete(token.id);

    const ttl = op.ttl === undefined ? config.ttl : op.ttl;
    const own = this.#cappedTtl(ttl, now, now);
    this.tokens.set(exec.issued.id, {
      id: exec.issued.id,
      token: exec.issued.token,
      user: op.user,
      device,
      created: now,
      used: now,
      expiresAt: own === null ? null : now + own,
      ownTtl: op.ttl,
      meta: op.meta && Object.keys(op.meta).length > 0 ? { ...op.meta } : {},
      scope: [...new Set(op.scope ?? [])],
    });

    if (config.resetTtlOnLogin) {
      for (const token of live) {
        if (!config.overwriteNullTtl && token.expiresAt === null) {
          this.#note('issue keeps a never-expiring token');
          continue;
        }
        if (token.expiresAt === null) this.#note('issue gives a never-expiring token a ttl');
        else this.#note('issue resets the ttl of another token');
        const reset = this.#cappedTtl(config.ttl, token.created, now);
        token.expiresAt = reset === null ? null : now + reset;
      }
    }

    const events = [
      ...replaced.map((token) => event(token, 'replaced')),
      ...evicted.map((token) => event(token, 'limit')),
    ];
    return {
      outcome: {
        kind: 'issued',
        id: exec.issued.id,
        first,
        expiresAt: own === null ? null : now + own,
      },
      events,
    };
  }

  #verify(op: Extract<ModelOp, { kind: 'verify' }>, exec: Execution, t: number) {
    const token = op.wellFormed ? this.#matching(op.token) : undefined;
    if (token === undefined) {
      if (!op.wellFormed) this.#note('verify rejects a malformed token offline');
      else if (this.expired.has(op.token.slice(7, 17)))
        this.#note('verify rejects an expired token');
      else this.#note('verify rejects a revoked, forged or unknown token');
      return null;
    }
    if (!this.isLive(token, t)) {
      this.#note('verify rejects an expired token');
      return null;
    }
    // No script ran: the store judged no write due (a plain read), so nothing was touched.
    if (exec.now === null) {
      this.#note('verify within touchInterval');
      return this.#info(token);
    }
    const now = exec.now;
    if (now - token.used >= this.config.touchInterval) {
      token.used = now;
      this.#note('verify touches lastUsedAt');
      if (this.config.slidingTtl && token.expiresAt !== null) {
        const ttl = token.ownTtl === undefined ? this.config.ttl : token.ownTtl;
        const renewed = this.#cappedTtl(ttl, token.created, now);
        // A token whose own ttl is "never" keeps the expiry a login reset gave it.
        if (renewed !== null) token.expiresAt = now + renewed;
        this.#note(renewed === null ? 'verify keeps a reset expiry' : 'verify slides the expiry');
      }
    } else {
      this.#note('verify within touchInterval');
    }
    return this.#info(token);
  }

  #revokeAllBut(user: string, keep: string | null, t: number, reason: string): Prediction {
    const revoked: ModelToken[] = [];
    for (const token of this.#owned(user)) {
      if (token.id === keep) {
        this.#note('revokeOthers keeps the current token');
        continue;
      }
      if (this.isLive(token, t, false)) revoked.push(token);
      this.tokens.delete(token.id);
    }
    this.#note(`${reason} ends ${howMany(revoked.length)}`);
    return {
      outcome: { kind: 'count', value: revoked.length },
      events: revoked.map((token) => event(token, reason)),
    };
  }

  #revoked(tokens: ModelToken[], reason: string, value: boolean): Prediction {
    return {
      outcome: { kind: 'boolean', value },
      events: tokens.map((token) => event(token, reason)),
    };
  }

  /** A ttl capped by what is left of the token's maxLifetime; `null` for never. */
  #cappedTtl(ttl: number | null, created: number, now: number): number | null {
    const lifetime = this.config.maxLifetime;
    if (lifetime === null) return ttl;
    const left = created + lifetime - now;
    return ttl === null || left < ttl ? left : ttl;
  }

  #owned(user: string): ModelToken[] {
    return [...this.tokens.values()].filter((token) => token.user === user);
  }

  #matching(token: string): ModelToken | undefined {
    for (const candidate of this.tokens.values()) {
      if (candidate.token === token) return candidate;
    }
    return undefined;
  }

  #info(token: ModelToken): InfoView {
    return {
      id: token.id,
      userId: token.user,
      device: token.device,
      createdAt: token.created,
      lastUsedAt: token.used,
      expiresAt: token.expiresAt,
      meta: token.meta,
      scope: token.scope,
      lastIp: null,
      lastUserAgent: null,
    };
  }
}

function event(token: ModelToken, reason: string): RevokedEvent {
  return { id: token.id, userId: token.user, reason };
}

function howMany(count: number): string {
  if (count === 0) return 'no token';
  return count === 1 ? 'one token' : 'several tokens';
}
