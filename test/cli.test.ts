import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { TokenStore } from '../lib/index.js';
import { runCli } from './helpers/cli.js';
import { closeAll, rawClient, testStore } from './helpers/index.js';

function legacyToken(): string {
  return randomBytes(18).toString('base64url');
}

async function commandCalls(name: string): Promise<number> {
  const client = rawClient();
  const info = await client.info('commandstats').finally(() => client.quit());
  return Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

describe('the admin CLI', function () {
  this.timeout(60_000);
  let dir: string;
  let store: TokenStore;
  let cli: (args: string[], options?: Parameters<typeof runCli>[1]) => ReturnType<typeof runCli>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mt-cli-'));
    store = testStore({ ttl: 3600, importedTokens: true });
    cli = (args, options) => runCli([...args, '--prefix', store.keyPrefix], options);
  });

  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await closeAll();
  });

  describe('help and usage', () => {
    it('prints help for every command and exits 0', async () => {
      const runs = await Promise.all(
        ['list', 'revoke', 'revoke-all', 'stats', 'import'].map((command) =>
          runCli([command, '--help']),
        ),
      );
      for (const [i, command] of ['list', 'revoke', 'revoke-all', 'stats', 'import'].entries()) {
        expect(runs[i].code, command).to.equal(0);
        expect(runs[i].stdout).to.include(`Usage: passport-redis-multitokens ${command}`);
        expect(runs[i].stdout).to.include('REDIS_URL');
      }
      const top = await runCli(['--help']);
      expect(top.code).to.equal(0);
      expect(top.stdout).to.match(/Commands:[\s\S]*revoke-all/);
    });

    it('exits 2 with a clear message on a usage error', async () => {
      const [none, unknown, badOption, missing, badTtl] = await Promise.all([
        runCli([]),
        runCli(['frobnicate']),
        runCli(['list', 'alice', '--colour']),
        runCli(['revoke', 'alice']),
        runCli(['import', 'x.csv', '--ttl', 'soon']),
      ]);
      expect(none.code).to.equal(2);
      expect(unknown).to.deep.include({ code: 2 });
      expect(unknown.stderr).to.include("unknown command 'frobnicate'");
      expect(badOption.code).to.equal(2);
      expect(badOption.stderr).to.include("Unknown option '--colour'");
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.include('revoke takes <userId> <tokenId>');
      expect(badTtl.code).to.equal(2);
      expect(badTtl.stderr).to.include('--ttl must be');
    });

    it('exits 3 when Redis does not answer', async () => {
      const run = await runCli(['list', 'alice'], {
        env: { REDIS_URL: 'redis://user:hunter2@127.0.0.1:1' },
      });
      expect(run.code).to.equal(3);
      expect(run.stderr).to.include('is unavailable');
      expect(run.stderr).to.not.include('hunter2');
    });
  });

  describe('list, revoke and revoke-all', () => {
    it("lists a user's tokens as a table and as JSON, without secrets", async () => {
      const phone = await store.issue('alice', { device: 'phone' });
      const laptop = await store.issue('alice', { device: 'laptop' });

      const text = await cli(['list', 'alice']);
      expect(text.code).to.equal(0);
      const lines = text.stdout.trim().split('\n');
      expect(lines[0]).to.match(/^ID\s+DEVICE\s+CREATED\s+LAST USED\s+EXPIRES\s+LAST IP$/);
      expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).to.have.deep.members([
        [phone.id, 'phone'],
        [laptop.id, 'laptop'],
      ]);
      expect(text.stdout).to.not.include(phone.token.slice(17, 40));

      const json = await cli(['list', 'alice', '--json']);
      const listed = JSON.parse(json.stdout) as Array<{ id: string; device: string }>;
      expect(listed.map((t) => t.id)).to.have.members([phone.id, laptop.id]);
      expect((await cli(['list', 'nobody'])).stdout).to.include('nobody holds no live token');
    });

    it('revokes one token by id, and exits 1 for an id the user does not hold', async () => {
      const phone = await store.issue('alice', { device: 'phone' });
      const laptop = await store.issue('alice', { device: 'laptop' });

      const run = await cli(['revoke', 'alice', phone.id]);
      expect(run.code).to.equal(0);
      expect(run.stdout).to.include(`revoked ${phone.id}`);
      expect(await store.verify(phone.token)).to.equal(null);
      expect(await store.verify(laptop.token)).to.not.equal(null);

      const again = await cli(['revoke', 'alice', phone.id]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.include('holds no live token');
    });

    it('revokes every token of a user', async () => {
      await store.issue('alice', { device: 'a' });
      await store.import('alice', legacyToken());
      const bob = await store.issue('bob');

      const run = await cli(['revoke-all', 'alice']);
      expect(run.code).to.equal(0);
      expect(run.stdout.trim()).to.equal('revoked 2 tokens of alice');
      expect(await store.list('alice')).to.deep.equal([]);
      expect(await store.verify(bob.token)).to.not.equal(null);
    });
  });

  describe('stats', () => {
    it('counts users, tokens and devices with SCAN, never KEYS', async () => {
      await store.issue('alice', { device: 'phone' });
      await store.issue('alice', { device: 'laptop' });
      await store.issue('bob', { device: 'phone' });
      await store.issue('carol');
      await store.import('carol', legacyToken());
      const keysBefore = await commandCalls('keys');
      const scansBefore = await commandCalls('scan');

      const run = await cli(['stats', '--json']);
      expect(run.code).to.equal(0);
      const stats = JSON.parse(run.stdout);
      expect(stats).to.deep.include({
        users: 3,
        tokens: 5,
        importPointers: 1,
        tokensWithoutDevice: 2,
        distinctDevices: 2,
      });
      expect(stats.topDevices).to.deep.equal([
        { device: 'phone', tokens: 2 },
        { device: 'laptop', tokens: 1 },
      ]);
      expect(stats.memory.total).to.be.greaterThan(0);
      expect(stats.memory.total).to.equal(
        stats.memory.tokens + stats.memory.indexes + stats.memory.pointers,
      );
      expect(await commandCalls('keys')).to.equal(keysBefore);
      expect(await commandCalls('scan')).to.be.greaterThan(scansBefore);

      const text = await cli(['stats']);
      expect(text.stdout).to.match(/^users\s+3$/m);
      expect(text.stdout).to.match(/^ {2}phone\s+2$/m);
      expect(text.stdout).to.match(/^memory of keys\s+\d/m);
    });
  });

  describe('import', () => {
    it('imports good CSV rows and names each bad one by its line', async () => {
      const good = [legacyToken(), legacyToken(), legacyToken()];
      const bad = legacyToken();
      const file = join(dir, 'tokens.csv');
      writeFileSync(
        file,
        [
          'userId,token,device',
          `alice,${good[0]},phone`,
          `"bob","${good[1]}"`,
          `,${bad}`,
          'carol,short',
          '',
          `carol,${good[2]},tablet,extra`,
          `carol,${good[2]}`,
          `dave,"${bad}`,
        ].join('\r\n'),
      );

      const run = await cli(['import', file, '--quiet']);
      expect(run.code).to.equal(1);
      expect(run.stderr.trim().split('\n')).to.deep.equal([
        'line 4: userId must not be empty',
        'line 5: token must be 8 to 4096 characters long',
        'line 7: expected 2 or 3 columns (userId,token[,device]), got 4',
        'line 9: a quoted field is not closed',
      ]);
      expect(run.stdout).to.match(/^7 rows in [\d.]+ s \(\d+ rows\/s\): 3 imported, 0 already/);
      expect(run.stdout).to.include('4 refused');
      expect((await store.verify(good[0]))?.device).to.equal('phone');
      expect((await store.verify(good[1]))?.userId).to.equal('bob');
      expect((await store.verify(good[2]))?.userId).to.equal('carol');
      for (const token of [...good, bad]) expect(run.stderr + run.stdout).to.not.include(token);
    });

    it('imports JSON lines from standard input, and nothing twice when run again', async () => {
      const tokens = [legacyToken(), legacyToken()];
      const input = [
        JSON.stringify({ userId: 'alice', token: tokens[0], device: 'phone' }),
        JSON.stringify({ userId: 42, token: tokens[1] }),
        `{"userId": "x", "token": "${legacyToken()}"`,
        '[1, 2]',
      ].join('\n');

      const first = await cli(['import', '-', '--format', 'jsonl', '--ttl', 'never'], { input });
      expect(first.code).to.equal(1);
      expect(first.stderr).to.include('line 3: not valid JSON');
      expect(first.stderr).to.include('line 4: expected a JSON object');
      expect(first.stdout).to.include('2 imported');
      expect((await store.verify(tokens[1]))?.userId).to.equal('42');
      expect((await store.verify(tokens[1]))?.expiresAt).to.equal(null);

      const second = await cli(['import', '-', '--format', 'jsonl'], {
        input: input.split('\n').slice(0, 2).join('\n'),
      });
      expect(second.code).to.equal(0);
      expect(second.stdout).to.include('0 imported, 2 already there');
      expect(await store.list('alice')).to.have.length(1);
    });

    it('hashes with the secret named by --secret-env', async () => {
      const secret = 's'.repeat(32);
      const token = legacyToken();
      const run = await cli(['import', '-', '--secret-env', 'APP_TOKEN_SECRET'], {
        input: `alice,${token}\n`,
        env: { APP_TOKEN_SECRET: secret },
      });
      expect(run.code).to.equal(0);
      expect(await store.verify(token)).to.equal(null);
      const keyed = testStore({ keyPrefix: store.keyPrefix, secret, importedTokens: true });
      expect((await keyed.verify(token))?.userId).to.equal('alice');
      expect((await cli(['import', '-', '--secret-env', 'UNSET_NAME'])).code).to.equal(2);
    });

    it('prints plain progress lines when stderr is not a terminal, and a bar on one', async () => {
      const file = join(dir, 'tokens.csv');
      writeFileSync(
        file,
        Array.from({ length: 400 }, (_, n) => `u${n % 40},${legacyToken()}`).join('\n'),
      );

      const plain = await cli(['import', file]);
      const progress = plain.stderr.trim().split('\n');
      expect(progress.length, plain.stderr).to.be.within(5, 10);
      for (const line of progress) expect(line).to.match(/^progress: \d+ rows, \d+0%$/);
      expect(plain.stderr).to.not.include('\r');
      expect(plain.stderr).to.not.include('\u001b[');

      const tty = await cli(['import', file], { tty: true });
      expect(tty.code).to.equal(0);
      expect(tty.stdout).to.include('400 already there');
      expect(tty.stdout).to.match(/\r\[[#-]{30}\] \d+% {2}\d+ rows {2}\d+ rows\/s/);
      expect(tty.stdout).to.not.include('progress:');
    });

    it('streams 20,000 rows in bounded memory, with a summary', async function () {
      this.timeout(120_000);
      const file = join(dir, 'big.csv');
      const out = createWriteStream(file);
      for (let n = 0; n < 20_000; n++)
        out.write(`user${n % 5000},${legacyToken()},d${Math.floor(n / 5000)}\n`);
      await new Promise((resolve) => out.end(resolve));

      const run = await cli(['import', file, '--quiet'], { measure: true });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stderr).to.equal('');
      const summary = /^(\d+) rows in ([\d.]+) s \((\d+) rows\/s\): (\d+) imported/.exec(
        run.stdout,
      );
      expect(summary?.[1]).to.equal('20000');
      expect(summary?.[4]).to.equal('20000');
      expect(await store.list('user4999')).to.have.length(4);
      console.log(
        `      20,000 rows: ${summary?.[2]} s, ${summary?.[3]} rows/s, ` +
          `peak RSS ${run.peakRssMiB?.toFixed(0)} MiB`,
      );
      expect(run.peakRssMiB).to.be.lessThan(400);
    });
  });
});
