// Builds dist/esm and dist/cjs from lib/ with the TypeScript compiler.
// The CommonJS half gets its own package.json so Node and TypeScript read its .js and .d.ts as CJS.
// The admin CLI (package.json `bin`) runs from the ESM half.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';

const tsc = (...args) =>
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', ...args], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc();
tsc('--module', 'commonjs', '--outDir', 'dist/cjs');
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
chmodSync('dist/esm/cli.js', 0o755);
