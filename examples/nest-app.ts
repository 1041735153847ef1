/*
 * A NestJS 12 app (Express platform) on @nestjs/passport: the strategy is
 * `PassportStrategy(RedisMultiTokenStrategy, 'bearer')`, whose `validate(userId, info)`
 * turns a verified token into the user, and routes are guarded with `AuthGuard('bearer')`.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/nest-app.ts
 *
 * Every constructor parameter names its provider with @Inject: tools that compile
 * TypeScript without `emitDecoratorMetadata` (tsx, esbuild, Vite) leave Nest no type
 * information to inject by.
 */
import 'reflect-metadata';
import { timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  type ArgumentsHost,
  Body,
  Catch,
  Controller,
  Delete,
  type DynamicModule,
  type ExceptionFilter,
  Get,
  HttpCode,
  type INestApplication,
  Inject,
  Injectable,
  Module,
  Param,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import type { Response } from 'express';
import {
  RedisMultiTokenStrategy,
  RedisUnavailableError,
  type TokenInfo,
  TokenStore,
} from '../lib/index.js';

/** The injection token of the app's one TokenStore. */
export const TOKEN_STORE = 'TOKEN_STORE';

interface User {
  id: string;
  name: string;
}

// A stand-in for the app's user table and password check.
const USERS = new Map<string, User & { password: string }>([
  ['alice', { id: 'alice', name: 'Alice', password: 'wonderland' }],
]);

@Injectable()
export class BearerStrategy extends PassportStrategy(RedisMultiTokenStrategy, 'bearer') {
  constructor(@Inject(TOKEN_STORE) store: TokenStore) {
    super({ store, tokenSources: ['header'] });
  }

  /** Called with each verified token's user id; what it returns becomes `req.user`. */
  validate(userId: string, _info: TokenInfo): User | false {
    const user = USERS.get(userId);
    return user ? { id: user.id, name: user.name } : false;
  }
}

interface AuthedRequest {
  user: User;
  authInfo: TokenInfo;
}

@Controller()
export class AuthController {
  constructor(@Inject(TOKEN_STORE) private readonly store: TokenStore) {}

  @Post('login')
  async login(@Body() body: { username?: string; password?: string; device?: string }) {
    const user = typeof body?.username === 'string' ? USERS.get(body.username) : undefined;
    const given = Buffer.from(String(body?.password ?? ''));
    const stored = Buffer.from(user?.password ?? '');
    if (user === undefined || given.length !== stored.length || !timingSafeEqual(given, stored)) {
      throw new UnauthorizedException('wrong username or password');
    }
    const { token, id, expiresAt } = await this.store.issue(user.id, { device: body.device });
    return { token, id, expiresAt };
  }

  @Get('me')
  @UseGuards(AuthGuard('bearer'))
  me(@Req() req: AuthedRequest) {
    return { user: req.user, tokenId: req.authInfo.id };
  }

  @Get('devices')
  @UseGuards(AuthGuard('bearer'))
  async devices(@Req() req: AuthedRequest) {
    const tokens = await this.store.list(req.authInfo.userId);
    return tokens.map((t) => ({ id: t.id, device: t.device, current: t.id === req.authInfo.id }));
  }

  @Delete('devices/:id')
  @HttpCode(204)
  @UseGuards(AuthGuard('bearer'))
  async revokeDevice(@Req() req: AuthedRequest, @Param('id') id: string) {
    await this.store.revokeById(req.authInfo.userId, id);
  }

  @Post('logout')
  @HttpCode(204)
  @UseGuards(AuthGuard('bearer'))
  async logout(@Req() req: AuthedRequest) {
    await this.store.revokeById(req.authInfo.userId, req.authInfo.id);
  }
}

/** Redis did not answer: the guard passes the store's error on, and this makes it a 503. */
@Catch(RedisUnavailableError)
export class RedisUnavailableFilter implements ExceptionFilter {
  catch(_error: RedisUnavailableError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    response.status(503).json({ statusCode: 503, message: 'try again later' });
  }
}

@Module({})
export class AppModule {}

/** The app's module, with the store the app (or a test) made. */
export function appModule(store: TokenStore): DynamicModule {
  return {
    module: AppModule,
    imports: [PassportModule],
    controllers: [AuthController],
    providers: [{ provide: TOKEN_STORE, useValue: store }, BearerStrategy],
  };
}

/** Builds the app on a store; the caller listens and, at the end, closes both. */
export async function buildNestApp(store: TokenStore): Promise<INestApplication> {
  const app = await NestFactory.create(appModule(store), { logger: ['error', 'warn'] });
  app.useGlobalFilters(new RedisUnavailableFilter());
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const store = new TokenStore({ ttl: 30 * 24 * 3600 });
  const app = await buildNestApp(store);
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  console.log(`listening on ${await app.getUrl()}`);
}
