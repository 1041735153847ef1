// Generates the API reference in docs/api from the JSDoc of lib/index.ts.
// typedoc needs TypeScript 5's compiler API, which the project's TypeScript 7 does not have,
// so it runs from its own small install in tools/typedoc (installed here on first use).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const tools = 'tools/typedoc';
if (!existsSync(`${tools}/node_modules/typedoc`)) {
  execFileSync('npm', ['ci', '--prefix', tools, '--no-audit', '--no-fund'], { stdio: 'inherit' });
}
// Warnings fail the run: every exported name must be documented and reachable.
try {
  execFileSync(
    process.execPath,
    [
      `${tools}/node_modules/typedoc/bin/typedoc`,
      '--entryPoints',
      'lib/index.ts',
      '--tsconfig',
      'tsconfig.build.json',
      '--out',
      'docs/api',
      '--name',
      'passport-redis-multitokens',
      '--readme',
      'none',
      '--excludePrivate',
      '--excludeInternal',
      '--treatWarningsAsErrors',
      // Source links need a hosted git remote, which a CI clone does not have.
      '--disableSources',
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit' },
  );
} catch (err) {
  process.exitCode = err.status ?? 1;
}
