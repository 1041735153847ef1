import { bearerChallenge } from './challenge.js';
import { InvalidArgumentRangeError, InvalidArgumentTypeError } from './errors.js';

interface ScopedRequest {
  authInfo?: { scope?: unknown };
}

interface ExpressLikeResponse {
  setHeader(name: string, value: string): unknown;
  status(code: number): { end(): unknown };
}

interface KoaLikeContext {
  state: { authInfo?: { scope?: unknown } };
  req: ScopedRequest;
  set(name: string, value: string): void;
  status: number;
}

/** Works as Express middleware `(req, res, next)` and as Koa middleware `(ctx, next)`. */
export type ScopeMiddleware = {
  (req: unknown, res: unknown, next: (err?: unknown) => void): void;
  (ctx: unknown, next: () => Promise<unknown>): Promise<void>;
};

export interface RequireScopeOptions {
  /** @default 'Users' */
  realm?: string;
}

/**
 * Lets a request through only when its token holds every named scope; otherwise answers 403
 * with the RFC 6750 section 3.1 `insufficient_scope` challenge. Put it after
 * `passport.authenticate(...)`, which sets `req.authInfo.scope`.
 *
 * @example
 * Only tokens issued with the `write` scope may post:
 * ```ts
 * const auth = passport.authenticate('bearer', { session: false })
 * app.post('/notes', auth, requireScope('write'), addNote)
 * ```
 */
export function requireScope(...scopes: Array<string | RequireScopeOptions>): ScopeMiddleware {
  const options = typeof scopes.at(-1) === 'object' ? (scopes.pop() as RequireScopeOptions) : {};
  const needed = scopes as string[];
  if (needed.length === 0) throw new InvalidArgumentRangeError('requireScope needs a scope');
  if (!needed.every((scope) => typeof scope === 'string' && scope !== '')) {
    throw new InvalidArgumentTypeError('requireScope takes non-empty strings');
  }
  const challenge = bearerChallenge(options.realm ?? 'Users', needed, 'insufficient_scope');
  const allowed = (authInfo: { scope?: unknown } | undefined): boolean => {
    const granted = Array.isArray(authInfo?.scope) ? authInfo.scope : [];
    return needed.every((scope) => granted.includes(scope));
  };

  function middleware(a: unknown, b: unknown, c?: unknown): void | Promise<void> {
    if (typeof c === 'function') {
      const req = a as ScopedRequest;
      const res = b as ExpressLikeResponse;
      if (allowed(req.authInfo)) return (c as () => void)();
      res.setHeader('WWW-Authenticate', challenge);
      res.status(403).end();
      return;
    }
    const ctx = a as KoaLikeContext;
    const next = b as () => Promise<unknown>;
    if (allowed(ctx.state.authInfo ?? ctx.req.authInfo)) return next().then(() => {});
    ctx.set('WWW-Authenticate', challenge);
    ctx.status = 403;
    return Promise.resolve();
  }
  return middleware as ScopeMiddleware;
}
