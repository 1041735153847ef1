import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import express, { type NextFunction, type Request, type Response } from 'express';
import Koa from 'koa';
import { KoaPassport } from 'koa-passport';
import { Passport } from 'passport';
import { type RedisMultiTokenStrategy, requireScope, type TokenInfo } from '../../lib/index.js';

/*
 * The same small API in Express 5 and in Koa 3, each with a Passport instance of its own:
 *   POST /login {user, device?, scope?}   -> 201 {token, id, first}
 *   GET  /me                              -> {user, authInfo}
 *   GET  /devices                         -> the user's tokens
 *   POST /logout | /logout-all | /logout-others
 *   GET  /notes (scope 'read'), POST /notes (scope 'write')
 */

interface LoginBody {
  user?: string;
  device?: string;
  scope?: string[];
}

export function expressApp(strategy: RedisMultiTokenStrategy): express.Express {
  const passport = new Passport();
  passport.use(strategy);
  const store = strategy.store;
  const auth = passport.authenticate(strategy.name, { session: false });
  const app = express();
  app.use(express.json());
  app.set('trust proxy', 'loopback');

  app.post('/login', async (req, res) => {
    const { user, device, scope } = req.body as LoginBody;
    const issued = await store.issue(String(user), { device, scope });
    res.status(201).json({ token: issued.token, id: issued.id, first: issued.first });
  });
  app.get('/me', auth, (req, res) => {
    res.json({ user: req.user, authInfo: req.authInfo });
  });
  app.get('/devices', auth, async (req, res) => {
    const info = req.authInfo as TokenInfo;
    res.json(await store.list(info.userId));
  });
  app.post('/logout', auth, async (req, res) => {
    const info = req.authInfo as TokenInfo;
    await store.revokeById(info.userId, info.id);
    res.sendStatus(204);
  });
  app.post('/logout-all', auth, async (req, res) => {
    res.json({ revoked: await store.revokeAll((req.authInfo as TokenInfo).userId) });
  });
  app.post('/logout-others', auth, async (req, res) => {
    const info = req.authInfo as TokenInfo;
    res.json({ revoked: await store.revokeOthers(info.userId, info.id) });
  });
  app.get('/notes', auth, requireScope('read'), (_req, res) => {
    res.json(['a note']);
  });
  app.post('/notes', auth, requireScope('write'), (_req, res) => {
    res.sendStatus(201);
  });
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.status === 503 ? 'unavailable' : 'internal' });
  });
  return app;
}

export function koaApp(strategy: RedisMultiTokenStrategy): Koa {
  const passport = new KoaPassport();
  passport.use(strategy);
  const store = strategy.store;
  const auth = passport.authenticate(strategy.name, { session: false });
  const app = new Koa({ proxy: true });
  const router = new Router();
  const info = (ctx: Koa.Context) => ctx.state.authInfo as TokenInfo;

  router.post('/login', async (ctx) => {
    const { user, device, scope } = ctx.request.body as LoginBody;
    const issued = await store.issue(String(user), { device, scope });
    ctx.status = 201;
    ctx.body = { token: issued.token, id: issued.id, first: issued.first };
  });
  router.get('/me', auth, (ctx) => {
    ctx.body = { user: ctx.state.user, authInfo: ctx.state.authInfo };
  });
  router.get('/devices', auth, async (ctx) => {
    ctx.body = await store.list(info(ctx).userId);
  });
  router.post('/logout', auth, async (ctx) => {
    await store.revokeById(info(ctx).userId, info(ctx).id);
    ctx.status = 204;
  });
  router.post('/logout-all', auth, async (ctx) => {
    ctx.body = { revoked: await store.revokeAll(info(ctx).userId) };
  });
  router.post('/logout-others', auth, async (ctx) => {
    ctx.body = { revoked: await store.revokeOthers(info(ctx).userId, info(ctx).id) };
  });
  router.get('/notes', auth, requireScope('read'), (ctx) => {
    ctx.body = ['a note'];
  });
  router.post('/notes', auth, requireScope('write'), (ctx) => {
    ctx.status = 201;
  });

  app.silent = true;
  app.use(bodyParser());
  app.use(passport.initialize());
  app.use(router.routes());
  return app;
}
