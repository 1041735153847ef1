import { InvalidArgumentRangeError, InvalidArgumentTypeError } from './errors.js';

/* Argument checks shared by the store and the strategy. Each throws before anything is written. */

export const MAX_USER_ID_BYTES = 512;
export const MAX_DEVICE_BYTES = 128;
export const MAX_META_ENTRIES = 16;
export const MAX_META_BYTES = 1024;
export const MAX_SCOPES = 32;
export const MAX_TOKEN_LENGTH = 4096;
// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function boundedString(name: string, value: string, maxBytes: number): string {
  if (value.length === 0) throw new InvalidArgumentRangeError(`${name} must not be empty`);
  if (!value.isWellFormed()) {
    throw new InvalidArgumentRangeError(`${name} must be well-formed Unicode (no lone surrogates)`);
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) {
    throw new InvalidArgumentRangeError(`${name} must be at most ${maxBytes} bytes, got ${bytes}`);
  }
  return value;
}

/** A user id is a non-empty string or a safe integer, kept as a string. */
export function userIdArg(value: unknown, name = 'userId'): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidArgumentRangeError(`${name} must be a safe integer when it is a number`);
    }
    return String(value);
  }
  if (typeof value !== 'string') {
    throw new InvalidArgumentTypeError(`${name} must be a string or a number`);
  }
  return boundedString(name, value, MAX_USER_ID_BYTES);
}

export function deviceArg(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new InvalidArgumentTypeError('device must be a string');
  return boundedString('device', value, MAX_DEVICE_BYTES);
}

/** Seconds as a positive integer, or `null` for "never"; `undefined` keeps the fallback. */
export function ttlArg(name: string, value: unknown, fallback: number | null): number | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  return positiveInteger(name, value);
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new InvalidArgumentTypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentRangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new InvalidArgumentTypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentRangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

export function booleanArg(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgumentTypeError(`${name} must be a boolean`);
  return value;
}

/** `meta` is a small map of strings to strings; returns its JSON, or '' when absent. */
export function metaArg(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentTypeError('meta must be an object of string values');
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_META_ENTRIES) {
    throw new InvalidArgumentRangeError(`meta must have at most ${MAX_META_ENTRIES} entries`);
  }
  for (const [key, entry] of entries) {
    if (typeof entry !== 'string') {
      throw new InvalidArgumentTypeError('meta values must be strings');
    }
    boundedString('a meta key', key, MAX_META_BYTES);
    if (!entry.isWellFormed()) {
      throw new InvalidArgumentRangeError('meta values must be well-formed Unicode');
    }
  }
  if (entries.length === 0) return '';
  const json = JSON.stringify(Object.fromEntries(entries));
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_META_BYTES) {
    throw new InvalidArgumentRangeError(`meta must be at most ${MAX_META_BYTES} bytes as JSON`);
  }
  return json;
}

/** `scope` is a list of RFC 6749 scope tokens; returns them space-separated, or ''. */
export function scopeArg(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (!Array.isArray(value))
    throw new InvalidArgumentTypeError('scope must be an array of strings');
  if (value.length > MAX_SCOPES) {
    throw new InvalidArgumentRangeError(`scope must have at most ${MAX_SCOPES} entries`);
  }
  for (const entry of value) {
    if (typeof entry !== 'string')
      throw new InvalidArgumentTypeError('scope entries must be strings');
    if (!SCOPE_TOKEN.test(entry)) {
      throw new InvalidArgumentRangeError(
        'scope entries must be non-empty printable ASCII without spaces, quotes or backslashes',
      );
    }
  }
  return [...new Set(value as string[])].join(' ');
}

export function tokenArg(value: unknown): string {
  if (typeof value !== 'string') throw new InvalidArgumentTypeError('token must be a string');
  return value;
}

export function oneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new InvalidArgumentRangeError(
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`,
    );
  }
  return value as T;
}

/** A `durable` option that is on, with its defaults applied: replicas and milliseconds. */
/** A store's `durable` setting as checked: replicas to wait for, and milliseconds to wait. */
export interface DurableWrite {
  replicas: number;
  timeout: number;
}

export const DEFAULT_DURABLE_TIMEOUT = 1000;

/**
 * `durable` is a replica count or `{ replicas, timeout }`; `null` when it asks for 0
 * replicas, the fallback when `undefined`.
 */
export function durableArg(value: unknown, fallback: DurableWrite | null): DurableWrite | null {
  if (value === undefined) return fallback;
  if (typeof value === 'number') {
    const replicas = nonNegativeInteger('durable', value);
    return replicas === 0 ? null : { replicas, timeout: DEFAULT_DURABLE_TIMEOUT };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentTypeError('durable must be a number or { replicas, timeout }');
  }
  const { replicas, timeout } = value as { replicas?: unknown; timeout?: unknown };
  const count = nonNegativeInteger('durable.replicas', replicas);
  const ms = positiveInteger('durable.timeout', timeout ?? DEFAULT_DURABLE_TIMEOUT);
  return count === 0 ? null : { replicas: count, timeout: ms };
}

export function optionsArg(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentTypeError(`${name} must be an object`);
  }
  return value as Record<string, unknown>;
}
