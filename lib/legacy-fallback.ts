import createDebug from 'debug';
import type { BearerRequest } from './bearer-base.js';
import { InvalidArgumentRangeError, InvalidArgumentTypeError } from './errors.js';
import type { TokenStore } from './token-store.js';
import type { TokenInfo, VerifyContext } from './types.js';
import { optionsArg, ttlArg, userIdArg } from './validate.js';

const debug = createDebug('passport-redis-multitokens:legacy');

/** How `migrate` imports the legacy tokens it accepts. */
export interface MigrateOptions {
  /**
   * Seconds an imported token lives from its first use; `null` never expires.
   * @default the store's `ttl`
   */
  ttl?: number | null;
}

/** A verify step's answer: the user (or `false`) and what becomes `req.authInfo`. */
export interface LegacyOutcome {
  user: unknown;
  info?: unknown;
}

type AnyVerify = (...args: unknown[]) => unknown;

/**
 * The strategy's fallback to an app's previous verify function: asks it, counts what it
 * accepts, and with `migrate` imports the accepted token so the next use needs no fallback.
 */
export class LegacyFallback {
  accepted = 0;
  migrated = 0;

  constructor(
    private readonly store: TokenStore,
    private readonly legacyVerify: AnyVerify,
    private readonly passReq: boolean,
    private readonly migrate: MigrateOptions | null,
    private readonly userIdOf: (user: unknown) => unknown,
  ) {}

  /** Asks the legacy function about a token Redis does not know; imports it when it may. */
  async verify(
    req: BearerRequest,
    token: string,
    context: VerifyContext | undefined,
  ): Promise<LegacyOutcome> {
    const legacy = await this.#ask(req, token);
    if (!legacy.user) {
      if (this.store.listenerCount('rejected') > 0) {
        this.store.emit('rejected', { reason: 'unknown', id: null });
      }
      return { user: false };
    }

    let userId: string | null = null;
    try {
      userId = userIdArg(this.userIdOf(legacy.user), 'legacyUserId(user)');
    } catch (err) {
      debug('no user id for a legacy user: %s', (err as Error).message);
    }
    if (this.migrate !== null && userId !== null) {
      const migrated = await this.#import(userId, token, legacy.info, context);
      if (migrated === 'revoked') return { user: false };
      if (migrated !== null) {
        this.accepted++;
        this.migrated++;
        this.store.emit('legacy', { userId, migrated: true, id: migrated.id });
        return { user: legacy.user, info: migrated };
      }
    }
    this.accepted++;
    this.store.emit('legacy', { userId, migrated: false, id: null });
    return legacy;
  }

  /** Calls the legacy function in its callback or its async form. */
  #ask(req: BearerRequest, token: string): Promise<LegacyOutcome> {
    const args: unknown[] = this.passReq ? [req, token] : [token];
    const callbackForm = this.legacyVerify.length > args.length;
    return new Promise<LegacyOutcome>((resolve, reject) => {
      const done = (err: unknown, user?: unknown, info?: unknown) =>
        err ? reject(err) : resolve({ user, info });
      try {
        const result = this.legacyVerify(...args, ...(callbackForm ? [done] : []));
        if (!callbackForm) Promise.resolve(result).then((user) => resolve({ user }), reject);
        else if (isThenable(result)) result.then(undefined, reject);
      } catch (err) {
        reject(err);
      }
    });
  }

  /**
   * Imports an accepted token and reads it back for `req.authInfo`. `null` when it could not
   * be imported (the request still succeeds: the legacy function vouched for it), `'revoked'`
   * when it was imported and revoked while this request was under way.
   */
  async #import(
    userId: string,
    token: string,
    info: unknown,
    context: VerifyContext | undefined,
  ): Promise<TokenInfo | 'revoked' | null> {
    try {
      const result = await this.store.import(userId, token, {
        ttl: this.migrate?.ttl,
        scope: legacyScope(info),
      });
      if (result.status === 'revoked') return 'revoked';
      const found = await this.store.lookupImported(token, context);
      return found.status === 'live' ? found.info : null;
    } catch (err) {
      debug('could not migrate a legacy token of user %s: %s', userId, (err as Error).message);
      return null;
    }
  }
}

/** Builds the fallback from the strategy options, or `undefined` without `legacyVerify`. */
export function legacyFallbackOption(
  opts: Record<string, unknown>,
  store: TokenStore,
  passReq: boolean,
): LegacyFallback | undefined {
  const { legacyVerify, migrate, legacyUserId } = opts;
  if (legacyVerify === undefined) {
    if (migrate !== undefined && migrate !== false) {
      throw new InvalidArgumentTypeError('migrate needs legacyVerify');
    }
    return undefined;
  }
  if (typeof legacyVerify !== 'function') {
    throw new InvalidArgumentTypeError('legacyVerify must be a function');
  }
  if (legacyUserId !== undefined && typeof legacyUserId !== 'function') {
    throw new InvalidArgumentTypeError('legacyUserId must be a function');
  }
  const migration = migrateOption(migrate);
  if (migration !== null && !store.importedTokens) {
    throw new InvalidArgumentRangeError('migrate needs a store with importedTokens: true');
  }
  return new LegacyFallback(
    store,
    legacyVerify as AnyVerify,
    passReq,
    migration,
    (legacyUserId as ((user: unknown) => unknown) | undefined) ?? defaultUserId,
  );
}

function migrateOption(value: unknown): MigrateOptions | null {
  if (value === undefined || value === false) return null;
  if (value === true) return {};
  if (typeof value !== 'object') {
    throw new InvalidArgumentTypeError('migrate must be a boolean or an object');
  }
  const opts = optionsArg('migrate', value) as MigrateOptions;
  return opts.ttl === undefined ? {} : { ttl: ttlArg('migrate.ttl', opts.ttl, null) };
}

function defaultUserId(user: unknown): unknown {
  return typeof user === 'object' && user !== null ? (user as { id?: unknown }).id : undefined;
}

/** passport-http-bearer apps pass scope as `info.scope`, a string or a list. */
function legacyScope(info: unknown): string[] | undefined {
  const scope =
    typeof info === 'object' && info !== null ? (info as { scope?: unknown }).scope : '';
  if (typeof scope === 'string') return scope.split(/\s+/).filter(Boolean);
  if (Array.isArray(scope)) return scope as string[];
  return undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
