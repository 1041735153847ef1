import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import { Strategy as HttpBearerStrategy } from 'passport-http-bearer';
import type { TokenInfo } from '../../lib/index.js';

export interface LegacyUser {
  id: string;
  name: string;
}

/**
 * An API as it runs before the switch: passport-http-bearer with tokens in a table (here a
 * Map), the way adopters of the package start. Its strategy can be swapped while it serves.
 */
export interface LegacyApp {
  url: string;
  passport: passport.PassportStatic;
  /** The legacy token table: token -> user id. */
  table: Map<string, string>;
  users: Map<string, LegacyUser>;
  /** The old app's verify function, in passport-http-bearer's callback form. */
  legacyVerify(token: string, done: (err: unknown, user?: unknown) => void): void;
  /** Adds a user with a legacy token and returns the token. */
  addLegacyClient(userId: string): string;
  close(): Promise<void>;
}

/** What GET /me answers: the user and the token's id when it has one. */
export interface MeBody {
  user: LegacyUser;
  tokenId: string | null;
}

export async function startLegacyApp(): Promise<LegacyApp> {
  const table = new Map<string, string>();
  const users = new Map<string, LegacyUser>();
  const instance = new passport.Passport() as unknown as passport.PassportStatic;
  const legacyVerify = (token: string, done: (err: unknown, user?: unknown) => void) => {
    const userId = table.get(token);
    setImmediate(() => done(null, userId === undefined ? false : users.get(userId)));
  };
  instance.use('bearer', new HttpBearerStrategy(legacyVerify));

  const app = express();
  app.use(instance.initialize());
  const auth = instance.authenticate('bearer', { session: false });
  app.get('/me', auth, (req, res) => {
    const info = req.authInfo as Partial<TokenInfo> | undefined;
    res.json({ user: req.user, tokenId: info?.id ?? null });
  });
  app.use((err: { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).end();
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    passport: instance,
    table,
    users,
    legacyVerify,
    addLegacyClient(userId) {
      users.set(userId, { id: userId, name: `User ${userId}` });
      const token = randomBytes(24).toString('base64url');
      table.set(token, userId);
      return token;
    },
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** GET /me with a bearer token: the status and, on success, the body. */
export async function getMe(
  app: LegacyApp,
  token: string,
): Promise<{ status: number; body: MeBody | null }> {
  const res = await fetch(`${app.url}/me`, { headers: { authorization: `Bearer ${token}` } });
  const body = res.status === 200 ? ((await res.json()) as MeBody) : null;
  if (body === null) await res.arrayBuffer();
  return { status: res.status, body };
}
