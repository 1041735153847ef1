import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import type { RedisMultiTokenStrategy, TokenInfo } from '../../lib/index.js';

/** An Express 5 app on a loopback port, with the routes a real login service would have. */
export interface TestApp {
  port: number;
  /** Errors the app's error handler saw: any of them is a failure of the test. */
  errors: Error[];
  close(): Promise<void>;
}

/**
 * Serves, on a free loopback port:
 *   POST /login    {user, device?}   issues a token (no authentication: a test stand-in)
 *   GET|POST /me                     the bearer's user and token id
 *   POST /logout                     revokes the bearer's own token
 *   GET /devices                     lists the bearer's tokens
 * Bodies may be JSON or form-encoded, up to 1 MiB.
 */
export async function startExpressApp(
  strategy: RedisMultiTokenStrategy,
  { keepAliveTimeout = 5000 } = {},
): Promise<TestApp> {
  const auth = new passport.Passport();
  auth.use(strategy);
  const bearer = auth.authenticate(strategy.name, { session: false });
  const store = strategy.store;
  const errors: Error[] = [];

  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.use(express.urlencoded({ extended: false, limit: '1mb' }));
  app.post('/login', async (req: Request, res: Response) => {
    const { user, device } = req.body as { user: string; device?: string };
    const issued = await store.issue(user, { device, meta: { agent: 'soak' } });
    res.status(201).json({ token: issued.token, id: issued.id });
  });
  app.all('/me', bearer, (req: Request, res: Response) => {
    const info = req.authInfo as TokenInfo;
    res.json({ user: info.userId, id: info.id });
  });
  app.post('/logout', bearer, async (req: Request, res: Response) => {
    const info = req.authInfo as TokenInfo;
    await store.revokeById(info.userId, info.id);
    res.sendStatus(204);
  });
  app.get('/devices', bearer, async (req: Request, res: Response) => {
    const info = req.authInfo as TokenInfo;
    res.json((await store.list(info.userId)).map((token) => token.id));
  });
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    res.status(err.status ?? 500).json({ error: err.message });
  });

  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  server.keepAliveTimeout = keepAliveTimeout;
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
