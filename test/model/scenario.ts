import fc from 'fast-check';
import type { ModelConfig } from './reference-model.js';

/*
 * Random scenarios for the model-based test: store options, then a short sequence of steps.
 * Everything is in milliseconds, as the stores under test run with `timeUnit: 1`. TTLs of
 * tens of ms and waits of a few ms put expiries among the operations without making a run
 * slow; the checker accepts either outcome when an operation ran within ms of one.
 */

/** User ids as callers pass them: 7 and '7' are one user, the last one needs no escaping. */
export const USERS = ['alice', 'bob', 7, '7', 'ü {x}:*'] as const;
export type UserArg = (typeof USERS)[number];

/**
 * Which token an operation uses: one issued earlier in the run (picked by its place counted
 * from the newest, so shrinking keeps the reference), one with its id but another secret,
 * one never issued, or a malformed one.
 */
export interface TokenRef {
  pick: number;
  variant: 'issued' | 'forged' | 'unknown' | 'malformed';
}

export type StepOp =
  | {
      kind: 'issue';
      user: UserArg;
      device?: string;
      ttl?: number | null;
      meta?: Record<string, string>;
      scope?: string[];
    }
  | { kind: 'verify'; ref: TokenRef }
  | { kind: 'revoke'; ref: TokenRef }
  | { kind: 'revokeById'; user: UserArg; ref: TokenRef }
  | { kind: 'revokeAll'; user: UserArg }
  | { kind: 'revokeOthers'; user: UserArg; ref: TokenRef }
  | { kind: 'list'; user: UserArg };

/** One operation, a real wait of `ms`, or operations sent at once through several clients. */
export type Step =
  | { kind: 'op'; op: StepOp }
  | { kind: 'wait'; ms: number }
  | { kind: 'batch'; ops: Array<{ op: StepOp; client: number }> };

export const configArb: fc.Arbitrary<ModelConfig> = fc.record({
  ttl: fc.constantFrom<number | null>(null, 8, 20, 40, 100_000),
  resetTtlOnLogin: fc.boolean(),
  overwriteNullTtl: fc.boolean(),
  slidingTtl: fc.boolean(),
  touchInterval: fc.constantFrom(0, 6, 100_000),
  maxLifetime: fc.constantFrom<number | null>(null, null, 25, 60),
  maxTokensPerUser: fc.constantFrom<number | null>(null, null, 1, 2, 3),
  onLimit: fc.constantFrom<'evict-oldest' | 'reject'>('evict-oldest', 'reject'),
});

// Mostly one user, so that operations meet each other's tokens.
const user = fc.oneof(
  { arbitrary: fc.constant(USERS[0]), weight: 6 },
  { arbitrary: fc.constant(USERS[1]), weight: 1 },
  { arbitrary: fc.constant(USERS[2]), weight: 2 },
  { arbitrary: fc.constant(USERS[3]), weight: 2 },
  { arbitrary: fc.constant(USERS[4]), weight: 1 },
);

const ref: fc.Arbitrary<TokenRef> = fc.record({
  // Counted back from the newest token, mostly among the last few.
  pick: fc.oneof({ arbitrary: fc.nat({ max: 2 }), weight: 3 }, fc.nat({ max: 30 })),
  variant: fc.oneof(
    { arbitrary: fc.constant('issued' as const), weight: 12 },
    { arbitrary: fc.constant('forged' as const), weight: 1 },
    { arbitrary: fc.constant('unknown' as const), weight: 1 },
    { arbitrary: fc.constant('malformed' as const), weight: 1 },
  ),
});

const issue = fc.record(
  {
    kind: fc.constant('issue' as const),
    user,
    device: fc.constantFrom('phone', 'laptop', 'tablet'),
    ttl: fc.constantFrom<number | null>(null, null, 6, 15, 40),
    meta: fc.dictionary(fc.constantFrom('label', 'ua'), fc.string({ maxLength: 8 }), {
      maxKeys: 2,
    }),
    scope: fc.array(fc.constantFrom('read', 'write'), { maxLength: 3 }),
  },
  { requiredKeys: ['kind', 'user'] },
);

export const opArb: fc.Arbitrary<StepOp> = fc.oneof(
  { arbitrary: issue, weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant('verify' as const), ref }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant('revoke' as const), ref }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('revokeById' as const), user, ref }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('revokeAll' as const), user }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('revokeOthers' as const), user, ref }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('list' as const), user }), weight: 3 },
);

export const CLIENTS = 3;

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('op' as const), op: opArb }), weight: 16 },
  {
    arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(2, 6, 15, 30) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      ops: fc.array(fc.record({ op: opArb, client: fc.nat({ max: CLIENTS - 1 }) }), {
        minLength: 2,
        maxLength: 4,
      }),
    }),
    weight: 3,
  },
);

export const stepsArb: fc.Arbitrary<Step[]> = fc.array(stepArb, {
  minLength: 1,
  maxLength: 24,
  size: 'medium',
});
