/*
 * A Fastify 5 API on @fastify/passport: login issues a token per device, /me needs one,
 * /devices lists them and logout revokes the current one.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/fastify-app.ts
 *   curl -s -XPOST localhost:3000/login -H 'content-type: application/json' \
 *     -d '{"username":"alice","password":"wonderland","device":"laptop"}'
 *   curl -s localhost:3000/me -H "authorization: Bearer <token>"
 */
import { timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Authenticator } from '@fastify/passport';
import Fastify, { type FastifyInstance } from 'fastify';
import { RedisMultiTokenStrategy, type TokenInfo, TokenStore } from '../lib/index.js';

interface User {
  id: string;
  name: string;
}

// A stand-in for the app's user table and password check.
const USERS = new Map<string, User & { password: string }>([
  ['alice', { id: 'alice', name: 'Alice', password: 'wonderland' }],
]);

function checkPassword(username: unknown, password: unknown): User | null {
  const user = typeof username === 'string' ? USERS.get(username) : undefined;
  if (user === undefined || typeof password !== 'string') return null;
  const given = Buffer.from(password);
  const stored = Buffer.from(user.password);
  if (given.length !== stored.length || !timingSafeEqual(given, stored)) return null;
  return { id: user.id, name: user.name };
}

/** Builds the app on a store; the caller listens and, at the end, closes both. */
export async function buildFastifyApp(store: TokenStore): Promise<FastifyInstance> {
  const app = Fastify();
  const passport = new Authenticator();
  passport.use(
    'bearer',
    new RedisMultiTokenStrategy({
      store,
      tokenSources: ['header'],
      findUser: (userId: string) => {
        const user = USERS.get(userId);
        return user ? { id: user.id, name: user.name } : false;
      },
    }),
  );
  // @fastify/passport's flash plugin insists on a `session` decorator even when no route
  // uses sessions; bearer tokens need none, so an empty one will do.
  app.decorateRequest('session', null);
  await app.register(passport.initialize());
  const bearer = passport.authenticate('bearer', { session: false });

  app.post<{ Body: { username?: string; password?: string; device?: string } }>(
    '/login',
    async (request, reply) => {
      const user = checkPassword(request.body?.username, request.body?.password);
      if (user === null) return reply.code(401).send({ error: 'wrong username or password' });
      const { token, id, expiresAt } = await store.issue(user.id, { device: request.body.device });
      return { token, id, expiresAt };
    },
  );

  app.get('/me', { preValidation: bearer }, async (request) => ({
    user: request.user,
    tokenId: (request.authInfo as TokenInfo).id,
  }));

  app.get('/devices', { preValidation: bearer }, async (request) => {
    const info = request.authInfo as TokenInfo;
    const tokens = await store.list(info.userId);
    return tokens.map((t) => ({ id: t.id, device: t.device, current: t.id === info.id }));
  });

  app.delete<{ Params: { id: string } }>(
    '/devices/:id',
    { preValidation: bearer },
    async (request, reply) => {
      await store.revokeById((request.authInfo as TokenInfo).userId, request.params.id);
      return reply.code(204).send();
    },
  );

  app.post('/logout', { preValidation: bearer }, async (request, reply) => {
    const info = request.authInfo as TokenInfo;
    await store.revokeById(info.userId, info.id);
    return reply.code(204).send();
  });

  // Redis unavailable: RedisUnavailableError carries status 503.
  app.setErrorHandler((error: { statusCode?: number; status?: number }, _request, reply) => {
    const status = error.statusCode ?? error.status ?? 500;
    return reply.code(status).send({ error: status === 503 ? 'try again later' : 'error' });
  });
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const store = new TokenStore({ ttl: 30 * 24 * 3600 });
  const app = await buildFastifyApp(store);
  app.addHook('onClose', () => store.close());
  const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
  console.log(`listening on ${address}`);
}
