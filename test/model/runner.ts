import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import sinon, { type SinonSpy } from 'sinon';
import { type TokenInfo, TokenStore, TokenStoreError } from '../../lib/index.js';
import { TOUCH } from '../../lib/scripts.js';
import { formatToken, newTokenId, userTag } from '../../lib/token-format.js';
import { uniquePrefix } from '../helpers/index.js';
import { describeMismatch, explainStep, type Path } from './linearizability.js';
import {
  type Coverage,
  type Execution,
  type InfoView,
  type ModelConfig,
  type ModelOp,
  ModelState,
  type Outcome,
  type RevokedEvent,
} from './reference-model.js';
import type { Step, StepOp, TokenRef } from './scenario.js';

/** A client of the test server with a spy on `sendCommand`, to read the replies of scripts. */
export interface SpiedClient {
  client: Redis;
  sent: SinonSpy;
}

/** The operation whose async context is running: commands it sends are tagged with it. */
const running = new AsyncLocalStorage<object>();

/**
 * Spies on a client's `sendCommand`, tagging each command with the operation that sent it,
 * so that concurrent operations on one token can be told apart.
 */
export function spyOn(client: Redis): SpiedClient {
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], ...rest: unknown[]) => {
    (command as unknown as { operation?: object }).operation = running.getStore();
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as Redis['sendCommand'];
  return { client, sent: sinon.spy(client, 'sendCommand') };
}

interface Issued {
  token: string;
  id: string;
}

/**
 * Runs one scenario against real stores (one per client, all under one fresh key prefix)
 * and checks every step against the reference model. Throws with a readable account of the
 * first step the model cannot explain.
 */
export async function runScenario(
  clients: SpiedClient[],
  config: ModelConfig,
  steps: Step[],
  coverage?: Coverage,
): Promise<void> {
  const keyPrefix = uniquePrefix();
  const events: RevokedEvent[] = [];
  const stores = clients.map(({ client }) => {
    const store = new TokenStore({ redis: client, keyPrefix, timeUnit: 1, ...config });
    store.on('revoked', (event) => events.push({ ...event }));
    return store;
  });
  for (const { sent } of clients) sent.resetHistory();

  const issued: Issued[] = [];
  let paths: Path[] = [{ state: new ModelState(config), floor: Number.NEGATIVE_INFINITY }];
  try {
    for (const [index, step] of steps.entries()) {
      if (step.kind === 'wait') {
        // The elapsed time is what is tested here: tokens expire while the runner waits.
        await sleep(step.ms);
        continue;
      }
      const batch = step.kind === 'op' ? [{ op: step.op, client: 0 }] : step.ops;
      const ops = batch.map(({ op }) => resolve(op, issued));
      for (const path of paths) path.state.prune(Date.now());
      events.length = 0;
      const execs = await Promise.all(
        ops.map((op, i) => execute(stores[batch[i].client], clients[batch[i].client], op)),
      );
      for (const exec of execs) if (exec.issued) issued.push(exec.issued);

      const next = explainStep(paths, execs, [...events], coverage);
      if (next.length === 0) {
        throw new Error(
          `step ${index} of ${steps.length}: ${describeMismatch(paths, execs, events)}`,
        );
      }
      paths = next;
    }
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

/** Turns a generated operation into a concrete one, picking tokens issued so far. */
function resolve(op: StepOp, issued: Issued[]): ModelOp {
  switch (op.kind) {
    case 'issue':
      return { ...op, user: String(op.user) };
    case 'list':
    case 'revokeAll':
      return { kind: op.kind, user: String(op.user) };
    case 'verify':
    case 'revoke': {
      const { token, wellFormed } = pickToken(op.ref, issued);
      return { kind: op.kind, token, wellFormed };
    }
    case 'revokeById':
    case 'revokeOthers': {
      const { id, wellFormed } = pickToken(op.ref, issued);
      return { kind: op.kind, user: String(op.user), id, wellFormed };
    }
  }
}

function pickToken(ref: TokenRef, issued: Issued[]) {
  const base =
    issued.length > 0 ? issued[issued.length - 1 - (ref.pick % issued.length)] : undefined;
  const tag = base?.token.slice(3, 7) ?? userTag('alice');
  const id = base?.id ?? newTokenId();
  const variant = ref.variant === 'issued' && base === undefined ? 'unknown' : ref.variant;
  switch (variant) {
    case 'issued':
      return { token: base?.token ?? '', id, wellFormed: true };
    case 'forged':
      return { token: formatToken('mt_', tag, id), id, wellFormed: true };
    case 'unknown': {
      const unknownId = newTokenId();
      return { token: formatToken('mt_', tag, unknownId), id: unknownId, wellFormed: true };
    }
    case 'malformed': {
      const token = base?.token ?? formatToken('mt_', tag, id);
      const last = token.endsWith('0') ? '1' : '0';
      return { token: token.slice(0, -1) + last, id: id.slice(1), wellFormed: false };
    }
  }
}

/** Runs one operation, timing it and reading Redis's `TIME` from its script's reply. */
async function execute(store: TokenStore, spied: SpiedClient, op: ModelOp): Promise<Execution> {
  const mark = spied.sent.callCount;
  const start = Date.now();
  const operation = {};
  const pending = running.run(operation, () => invoke(store, op));
  // The store sends its one script call synchronously, so it is the spy's next call.
  const reply = spied.sent.callCount > mark ? spied.sent.getCall(mark).returnValue : undefined;
  const { outcome, issued } = await pending;
  const end = Date.now();
  const scripted = op.kind === 'verify' ? touchReply(spied, mark, operation) : reply;
  const raw: unknown =
    scripted === undefined ? null : await Promise.resolve(scripted).catch(() => null);

  const wellFormed = !('wellFormed' in op) || op.wellFormed;
  if (!wellFormed && reply !== undefined) {
    throw new Error(`${op.kind} sent a Redis command for a malformed token or id`);
  }
  return { op, outcome, issued, now: redisNow(op.kind, raw), start, end };
}

const TOUCH_SHA = createHash('sha1').update(TOUCH).digest('hex');

/**
 * A verify reads with a plain HMGET and runs the touch script only when a write is due; in a
 * concurrent batch other operations' commands come in between, so find it by its sender.
 */
function touchReply(spied: SpiedClient, mark: number, operation: object): unknown {
  let found: unknown;
  for (let i = mark; i < spied.sent.callCount; i++) {
    const call = spied.sent.getCall(i);
    const command = call.args[0] as { name: string; args: unknown[]; operation?: object };
    const touch =
      (command.name === 'evalsha' && command.args[0] === TOUCH_SHA) ||
      (command.name === 'eval' && command.args[0] === TOUCH);
    // After NOSCRIPT ioredis sends the script again as EVAL: the last send is the answer.
    if (touch && command.operation === operation) found = call.returnValue;
  }
  return found;
}

async function invoke(
  store: TokenStore,
  op: ModelOp,
): Promise<{ outcome: Outcome; issued?: Issued }> {
  try {
    switch (op.kind) {
      case 'issue': {
        const { user, kind: _, ...options } = op;
        const result = await store.issue(user, options);
        return {
          outcome: {
            kind: 'issued',
            id: result.id,
            first: result.first,
            expiresAt: result.expiresAt?.getTime() ?? null,
          },
          issued: { token: result.token, id: result.id },
        };
      }
      case 'verify':
        return { outcome: { kind: 'info', info: view(await store.verify(op.token)) } };
      case 'revoke':
        return { outcome: { kind: 'boolean', value: await store.revoke(op.token) } };
      case 'revokeById':
        return { outcome: { kind: 'boolean', value: await store.revokeById(op.user, op.id) } };
      case 'revokeAll':
        return { outcome: { kind: 'count', value: await store.revokeAll(op.user) } };
      case 'revokeOthers':
        return { outcome: { kind: 'count', value: await store.revokeOthers(op.user, op.id) } };
      case 'list': {
        const infos = (await store.list(op.user)).map((info) => view(info) as InfoView);
        return { outcome: { kind: 'list', infos } };
      }
    }
  } catch (err) {
    if (err instanceof TokenStoreError) return { outcome: { kind: 'error', code: err.code } };
    throw err;
  }
}

/** Redis's clock as the script read it: issue, a successful verify and list return it. */
function redisNow(kind: ModelOp['kind'], raw: unknown): number | null {
  if (!Array.isArray(raw)) return null;
  if (kind === 'issue' && raw[0] === 'ok') return Number(raw[2]);
  if (kind === 'verify' && raw[0] === 1) return Number(raw[4]);
  if (kind === 'list') return Number(raw[0]);
  return null;
}

function view(info: TokenInfo | null): InfoView | null {
  if (info === null) return null;
  return {
    id: info.id,
    userId: info.userId,
    device: info.device,
    createdAt: info.createdAt.getTime(),
    lastUsedAt: info.lastUsedAt.getTime(),
    expiresAt: info.expiresAt?.getTime() ?? null,
    meta: info.meta,
    scope: info.scope,
    lastIp: info.lastIp,
    lastUserAgent: info.lastUserAgent,
  };
}
