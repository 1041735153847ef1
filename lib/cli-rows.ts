import type { Readable } from 'node:stream';

/* Reading import files: lines streamed in bounded memory, and each line turned into a row. */

/** One token to import, as a line of the file gives it. */
export interface ImportRow {
  userId: string | number;
  token: string;
  device?: string;
}

export type RowFormat = 'csv' | 'jsonl';

/** A line that is not a row; `message` never quotes the line, which holds a token. */
export class RowError extends Error {}

/**
 * Yields the lines of a stream with their 1-based numbers and the bytes read up to their
 * end, one chunk in memory at a time: the next chunk is read only once the consumer has
 * taken every line of this one.
 */
export async function* readLines(input: Readable): AsyncGenerator<[string, number, number]> {
  input.setEncoding('utf8');
  let rest = '';
  let number = 0;
  let bytes = 0;
  for await (const chunk of input as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      bytes += Buffer.byteLength(line, 'utf8') + 1;
      yield [line, ++number, bytes];
    }
  }
  if (rest !== '') yield [rest, ++number, bytes + Buffer.byteLength(rest, 'utf8')];
}

/** Guesses the format from the file name, else from the first line. */
export function guessFormat(file: string, firstLine: string): RowFormat {
  if (/\.(jsonl|ndjson|json)$/i.test(file)) return 'jsonl';
  if (/\.(csv|txt)$/i.test(file)) return 'csv';
  return firstLine.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

/** True for a CSV header line such as `userId,token,device`. */
export function isCsvHeader(line: string): boolean {
  const fields = line.trim().toLowerCase().split(',');
  return /^"?user_?id"?$/.test(fields[0] ?? '') && /^"?token"?$/.test(fields[1] ?? '');
}

/** Parses one line; `null` for a blank one. */
export function parseRow(line: string, format: RowFormat): ImportRow | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return null;
  return format === 'csv' ? csvRow(text) : jsonRow(text);
}

function csvRow(text: string): ImportRow {
  const fields = csvFields(text);
  if (fields.length < 2 || fields.length > 3) {
    throw new RowError(`expected 2 or 3 columns (userId,token[,device]), got ${fields.length}`);
  }
  const [userId, token, device] = fields;
  return device === undefined || device === '' ? { userId, token } : { userId, token, device };
}

/** Splits a CSV line (RFC 4180 quoting, within one line). */
function csvFields(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw new RowError('a quoted field is not closed');
        value += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        value += '"';
        i++;
      }
      fields.push(value);
      if (i < text.length && text[i] !== ',') {
        throw new RowError('a quoted field is followed by something other than a comma');
      }
    } else {
      const comma = text.indexOf(',', i);
      fields.push(text.slice(i, comma < 0 ? text.length : comma));
      i = comma < 0 ? text.length : comma;
    }
    if (i >= text.length) return fields;
    i++;
  }
}

function jsonRow(text: string): ImportRow {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // JSON.parse quotes the text it choked on; the text holds a token.
    throw new RowError('not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RowError('expected a JSON object with userId, token and optionally device');
  }
  const { userId, token, device } = value as Record<string, unknown>;
  if (typeof userId !== 'string' && typeof userId !== 'number') {
    throw new RowError('userId must be a string or a number');
  }
  if (typeof token !== 'string') throw new RowError('token must be a string');
  if (device !== undefined && device !== null && typeof device !== 'string') {
    throw new RowError('device must be a string');
  }
  return typeof device === 'string' ? { userId, token, device } : { userId, token };
}
