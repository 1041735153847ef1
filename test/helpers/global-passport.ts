import { createRequire } from 'node:module';
import passport from 'passport';

const require = createRequire(import.meta.url);

/**
 * koa-passport switches the global passport singleton to its Koa framework when it is
 * imported, and the Koa tests import it into this same mocha process. NestJS works on that
 * global singleton, so its tests put passport's own connect framework back first.
 */
export function restoreConnectFramework(): void {
  const connect = require('passport/lib/framework/connect') as () => Parameters<
    typeof passport.framework
  >[0];
  passport.framework(connect());
}
