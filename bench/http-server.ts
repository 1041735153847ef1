/*
 * One Express 5 app behind one kind of authentication, run as a child process of the
 * benchmark so that autocannon and the server do not share an event loop. The parent names
 * the variant and the Redis URL in the environment and learns the port over IPC.
 */
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { Redis } from 'ioredis';
import passport from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { RedisMultiTokenStrategy, TokenStore } from '../lib/index.js';

const variant = process.env.BENCH_VARIANT ?? 'none';
const url = process.env.BENCH_REDIS_URL ?? '';
const bearerToken = process.env.BENCH_BEARER_TOKEN ?? '';
const jwtSecret = process.env.BENCH_JWT_SECRET ?? '';

function auth(): RequestHandler {
  const users = new Map([[bearerToken, { id: 'user-hot' }]]);
  switch (variant) {
    case 'none':
      return (_req, _res, next) => next();
    case 'bearer-memory':
      passport.use(new BearerStrategy((token, done) => done(null, users.get(token) ?? false)));
      return passport.authenticate('bearer', { session: false });
    case 'bearer-redis-get': {
      const redis = new Redis(url);
      passport.use(
        new BearerStrategy((token, done) => {
          redis.get(`bench2:tok:${token}`).then(
            (id) => done(null, id === null ? false : { id }),
            (err: Error) => done(err),
          );
        }),
      );
      return passport.authenticate('bearer', { session: false });
    }
    case 'multitoken':
    case 'multitoken-cache': {
      const store = new TokenStore({
        redis: url,
        keyPrefix: 'bench2:',
        cache: variant === 'multitoken-cache',
      });
      passport.use(new RedisMultiTokenStrategy({ store, findUser: (id: string) => ({ id }) }));
      return passport.authenticate('bearer', { session: false });
    }
    case 'jwt':
      passport.use(
        new JwtStrategy(
          {
            secretOrKey: jwtSecret,
            jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
            algorithms: ['HS256'],
          },
          (payload: { sub: string }, done: (err: unknown, user?: unknown) => void) =>
            done(null, { id: payload.sub }),
        ),
      );
      return passport.authenticate('jwt', { session: false });
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

const app = express();
app.get('/me', auth(), (req, res) => {
  res.json({ user: req.user ?? null });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
