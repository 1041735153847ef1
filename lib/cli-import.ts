import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Progress, type ProgressStream } from './cli-progress.js';
import {
  guessFormat,
  type ImportRow,
  isCsvHeader,
  parseRow,
  RowError,
  type RowFormat,
  readLines,
} from './cli-rows.js';
import { TokenStoreError } from './errors.js';
import type { TokenStore } from './token-store.js';

/* The `import` command: streams a file of legacy tokens into the store. */

export interface ImportCommandOptions {
  /** A path, or '-' for standard input. */
  file: string;
  format: RowFormat | undefined;
  ttl: number | null | undefined;
  concurrency: number;
  quiet: boolean;
}

export interface ImportSummary {
  rows: number;
  imported: number;
  existing: number;
  revoked: number;
  refused: number;
  seconds: number;
  /** The error that stopped the run (Redis gone), or `null` when every line was read. */
  stoppedBy: Error | null;
}

/**
 * Imports each row of the file with at most `concurrency` imports under way, reading the
 * next lines only when a slot is free, so memory stays bounded however long the file.
 * A bad row is reported with its line number and skipped; a Redis failure stops the run.
 */
export async function importFile(
  store: TokenStore,
  options: ImportCommandOptions,
  errors: ProgressStream,
): Promise<ImportSummary> {
  const started = Date.now();
  const size = options.file === '-' ? null : statSync(options.file).size;
  const input: Readable =
    options.file === '-'
      ? process.stdin
      : createReadStream(options.file, { highWaterMark: 1 << 16 });
  const progress = options.quiet ? null : new Progress(errors, size);
  const summary: ImportSummary = {
    rows: 0,
    imported: 0,
    existing: 0,
    revoked: 0,
    refused: 0,
    seconds: 0,
    stoppedBy: null,
  };
  const refuse = (line: number, message: string) => {
    summary.refused++;
    errors.write(`line ${line}: ${message}\n`);
  };

  const importRow = async (row: ImportRow, line: number) => {
    try {
      const result = await store.import(row.userId, row.token, {
        device: row.device,
        ttl: options.ttl,
      });
      if (result.status === 'imported') summary.imported++;
      else if (result.status === 'exists') summary.existing++;
      else summary.revoked++;
    } catch (err) {
      if (isRowProblem(err)) refuse(line, (err as Error).message);
      else summary.stoppedBy ??= err as Error;
    }
  };

  const running = new Set<Promise<void>>();
  let format = options.format;
  for await (const [text, line, bytes] of readLines(input)) {
    if (summary.stoppedBy !== null) break;
    if (format === undefined) {
      format = guessFormat(options.file, text);
      if (format === 'csv' && isCsvHeader(text)) continue;
    }
    let row: ImportRow | null;
    try {
      row = parseRow(text, format);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      summary.rows++;
      refuse(line, err.message);
      continue;
    }
    if (row === null) continue;
    summary.rows++;
    const task = importRow(row, line).finally(() => running.delete(task));
    running.add(task);
    if (running.size >= options.concurrency) await Promise.race(running);
    progress?.update(summary.rows, bytes);
  }
  await Promise.all(running);
  if (input !== process.stdin) input.destroy();
  progress?.done();
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}

/** Errors that concern one row (bad values, the user's token limit), not the whole run. */
function isRowProblem(err: unknown): boolean {
  return (
    err instanceof TokenStoreError &&
    (err.code === 'ERR_INVALID_ARGUMENT' || err.code === 'ERR_TOKEN_LIMIT')
  );
}
