import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));
const REPORT_RSS = fileURLToPath(new URL('./report-rss.ts', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the CLI process in MiB, when `measure` was asked. */
  peakRssMiB: number | null;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  /** Wraps the run in `script` so that the CLI writes to a terminal. */
  tty?: boolean;
  measure?: boolean;
  timeout?: number;
}

/** Runs the real CLI (its TypeScript source through tsx) as a child process. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const node = [
    process.execPath,
    '--import',
    'tsx',
    ...(options.measure ? ['--import', REPORT_RSS] : []),
    CLI,
    ...args,
  ];
  const [command, argv] = options.tty
    ? ['script', ['-qec', node.map(shellQuote).join(' '), '/dev/null']]
    : [node[0], node.slice(1)];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      cwd: ROOT,
      env: { ...process.env, DEBUG: '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const rss = /peak-rss-kib=(\d+)/.exec(stderr);
      resolve({
        code,
        stdout,
        stderr: stderr.replace(/peak-rss-kib=\d+\n/, ''),
        peakRssMiB: rss ? Number(rss[1]) / 1024 : null,
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
