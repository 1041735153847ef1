import bearer from 'passport-http-bearer';

/*
 * A typed view of `passport-http-bearer`'s Strategy, the class RedisMultiTokenStrategy
 * extends. Declaring it here keeps the package's own type declarations free of
 * @types/passport-http-bearer and the Express and Koa typings it drags in.
 */

/** The parts of a Node, Express or koa-passport request the strategy reads. */
export interface BearerRequest {
  headers: Record<string, string | string[] | undefined>;
  /** Header names and values as received, when the framework keeps them (Node does). */
  rawHeaders?: string[];
  body?: unknown;
  query?: unknown;
  ip?: string;
  socket?: { remoteAddress?: string };
}

export type VerifyDone = (error: unknown, user?: unknown, info?: unknown) => void;

/** What passport adds to a strategy instance before it calls `authenticate`. */
export interface BearerStrategyBase {
  name: string;
  authenticate(req: BearerRequest, options?: unknown): void;
  success(user: unknown, info?: unknown): void;
  fail(challenge?: string | number, status?: number): void;
  error(err: unknown): void;
}

export interface BearerStrategyOptions {
  realm?: string;
  scope?: string | string[];
  passReqToCallback: true;
}

type BearerStrategyClass = new (
  options: BearerStrategyOptions,
  verify: (req: BearerRequest, token: string, done: VerifyDone) => void,
) => BearerStrategyBase;

export const BearerStrategy = bearer.Strategy as unknown as BearerStrategyClass;
