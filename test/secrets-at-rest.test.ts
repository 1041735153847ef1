import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { TokenStore } from '../lib/index.js';
import { rawClient, uniquePrefix } from './helpers/index.js';

/*
 * Issues SECRETS_ISSUES tokens (npm test: 10,000) with metadata, uses and revokes some, then
 * reads back every key the stores wrote and looks for any piece of any token in it.
 */
const issues = Number(process.env.SECRETS_ISSUES ?? 10_000);
const PIECE = 16;
const PARALLEL = 64;

/** Every PIECE-character window of every token. */
function tokenPieces(tokens: string[]): Set<string> {
  const pieces = new Set<string>();
  for (const token of tokens) {
    for (let i = 0; i + PIECE <= token.length; i++) pieces.add(token.slice(i, i + PIECE));
  }
  return pieces;
}

/** The pieces found in a text, read as Latin-1 so binary values keep every byte. */
function piecesIn(text: string, pieces: Set<string>): string[] {
  const found: string[] = [];
  for (let i = 0; i + PIECE <= text.length; i++) {
    const window = text.slice(i, i + PIECE);
    if (pieces.has(window)) found.push(window);
  }
  return found;
}

/**
 * Each key under a prefix with everything Redis holds for it: its name, its DUMP (the
 * serialized form Redis would persist or replicate) and its value read by type.
 */
async function dumpUnder(client: Redis, prefix: string): Promise<string[]> {
  const texts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    const types = await Promise.all(keys.map((key) => client.type(key)));
    const reads = keys.map((key, i) => {
      switch (types[i]) {
        case 'hash':
          return client.hgetallBuffer(key).then((h) => Object.entries(h).flat());
        case 'string':
          return client.getBuffer(key).then((v) => [v ?? Buffer.alloc(0)]);
        case 'zset':
          return client.zrangeBuffer(key, 0, -1, 'WITHSCORES');
        case 'set':
          return client.smembersBuffer(key);
        case 'list':
          return client.lrangeBuffer(key, 0, -1);
        default:
          throw new Error(`unexpected ${types[i]} at ${key}`);
      }
    });
    const values = await Promise.all(reads);
    const dumps = await Promise.all(keys.map((key) => client.dumpBuffer(key)));
    keys.forEach((key, i) => {
      const parts = [key, ...values[i], dumps[i] ?? ''];
      texts.push(
        parts.map((part) => (Buffer.isBuffer(part) ? part.toString('latin1') : part)).join('\n'),
      );
    });
  } while (cursor !== '0');
  return texts;
}

describe('tokens at rest', function () {
  this.timeout(0);
  let client: Redis;

  before(() => {
    client = rawClient();
  });

  after(async () => {
    await client.quit();
  });

  it(`keeps no 16-character piece of any of ${issues} tokens in what it writes`, async () => {
    const stores = [
      new TokenStore({ redis: client, keyPrefix: uniquePrefix(), touchInterval: 0 }),
      new TokenStore({
        redis: client,
        keyPrefix: uniquePrefix(),
        touchInterval: 0,
        secret: 'a server key of thirty-two bytes',
      }),
    ];
    const tokens: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < issues; i = next++) {
        const store = stores[i % 2];
        const user = `user-${i % 500}@example.com`;
        const { token, id } = await store.issue(user, {
          device: `device-${i}`,
          meta: { label: `Phone ${i}`, agent: `Mozilla/5.0 (X11; Linux) #${i}` },
          scope: ['read', 'write'],
        });
        tokens.push(token);
        if (i % 5 === 0) await store.verify(token, { ip: '203.0.113.7', userAgent: `curl/${i}` });
        if (i % 10 === 3) await store.revokeById(user, id);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    expect(tokens).to.have.length(issues);

    const texts = (
      await Promise.all(stores.map((store) => dumpUnder(client, store.keyPrefix)))
    ).flat();
    const pieces = tokenPieces(tokens);
    const found = texts.flatMap((text) => piecesIn(text, pieces));
    const bytes = texts.reduce((sum, text) => sum + text.length, 0);
    console.log(
      `      scanned ${texts.length} keys, ${(bytes / 1e6).toFixed(1)} MB,` +
        ` for ${pieces.size} token pieces`,
    );
    expect(texts.length, 'records and indexes of the live tokens').to.be.at.least(issues * 0.9);
    expect(found).to.deep.equal([]);

    // The search itself finds a piece when one is there.
    expect(piecesIn(`${texts[0]}${tokens[0].slice(20, 20 + PIECE)}`, pieces)).to.have.length(1);
  });
});
