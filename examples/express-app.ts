/*
 * A small Express 5 API with per-device bearer tokens. Run it with `npm start`.
 * It uses REDIS_URL when set, or starts a throw-away redis-server of its own.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import { RedisMultiTokenStrategy, type TokenInfo, TokenStoreError } from '../lib/index.js';
import { startLocalRedis } from './local-redis.js';

const local = process.env.REDIS_URL ? undefined : await startLocalRedis();
const redisUrl = process.env.REDIS_URL ?? (local?.url as string);

// A stand-in user table; a real app checks a password hash here.
const users = new Map([
  ['alice', { id: 'alice', name: 'Alice', password: 'wonderland' }],
  ['bob', { id: 'bob', name: 'Bob', password: 'builder' }],
]);

const strategy = new RedisMultiTokenStrategy({
  redis: redisUrl,
  ttl: 7 * 24 * 3600,
  findUser: (userId) => {
    const user = users.get(userId);
    return user ? { id: user.id, name: user.name } : null;
  },
  trackRequestMeta: true,
});
passport.use(strategy);
const store = strategy.store;
const auth = passport.authenticate('bearer', { session: false });
const tokenOf = (req: Request) => req.authInfo as TokenInfo;

const app = express();
app.use(express.json());

app.post('/login', async (req, res) => {
  const { user, password, device } = req.body ?? {};
  const account = users.get(String(user));
  if (!account || account.password !== password) {
    res.status(401).json({ error: 'wrong user or password' });
    return;
  }
  const issued = await store.issue(account.id, {
    device: typeof device === 'string' && device !== '' ? device : undefined,
    meta: { label: String(req.get('user-agent') ?? 'unknown client').slice(0, 80) },
  });
  res.status(201).json(issued);
});

app.get('/me', auth, (req, res) => {
  res.json({ user: req.user, token: tokenOf(req) });
});

app.get('/devices', auth, async (req, res) => {
  const current = tokenOf(req).id;
  const tokens = await store.list(tokenOf(req).userId);
  res.json(tokens.map((token) => ({ ...token, current: token.id === current })));
});

app.delete('/devices/:id', auth, async (req, res) => {
  const revoked = await store.revokeById(tokenOf(req).userId, String(req.params.id));
  res.sendStatus(revoked ? 204 : 404);
});

app.post('/logout', auth, async (req, res) => {
  await store.revokeById(tokenOf(req).userId, tokenOf(req).id);
  res.sendStatus(204);
});

app.post('/logout-others', auth, async (req, res) => {
  res.json({ revoked: await store.revokeOthers(tokenOf(req).userId, tokenOf(req).id) });
});

app.post('/logout-all', auth, async (req, res) => {
  res.json({ revoked: await store.revokeAll(tokenOf(req).userId) });
});

app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
  const status = err.status ?? 500;
  const code = err instanceof TokenStoreError ? err.code : 'ERR_INTERNAL';
  res.status(status).json({ error: code });
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${port}`;
  console.log(
    `Example API on ${base}, tokens in ${local ? 'a throw-away redis-server' : redisUrl}`,
  );
  console.log('Try it:');
  console.log(
    `  TOKEN=$(curl -s -X POST ${base}/login -H 'content-type: application/json' ` +
      `-d '{"user":"alice","password":"wonderland","device":"laptop"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')`,
  );
  console.log(`  curl -s ${base}/me -H "Authorization: Bearer $TOKEN"`);
  console.log(`  curl -s ${base}/devices -H "Authorization: Bearer $TOKEN"`);
  console.log(`  curl -s -X POST ${base}/logout-others -H "Authorization: Bearer $TOKEN"`);
  console.log(`  curl -s -X POST ${base}/logout-all -H "Authorization: Bearer $TOKEN"`);
  console.log(`  curl -s -X POST ${base}/logout -H "Authorization: Bearer $TOKEN"`);
  console.log('Stop with Ctrl-C.');
});

function shutdown(): void {
  server.close();
  void store.close().finally(() => local?.stop());
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
