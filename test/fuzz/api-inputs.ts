import fc from 'fast-check';

/*
 * Inputs for the API fuzz: user ids, devices and meta of every shape a caller might pass,
 * and the documented rule that decides whether each must be accepted.
 *   userId  a non-empty string of well-formed Unicode, at most 512 UTF-8 bytes, or a safe
 *           integer (kept as its decimal string)
 *   device  absent, or a non-empty string of well-formed Unicode of at most 128 bytes
 *   meta    absent, or a plain object of at most 16 entries whose keys (non-empty) and values
 *           are well-formed strings, at most 1024 bytes as JSON
 */

const MAX_USER_ID_BYTES = 512;
const MAX_DEVICE_BYTES = 128;
const MAX_META_ENTRIES = 16;
const MAX_META_BYTES = 1024;

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const awkward = fc.constantFrom('{', '}', '*', ':', ' ', '\\', '?', '[', ']', '\0', '\n', '%', '"');

/** Strings built to upset a key layout, an encoder or a length check. */
export const awkwardString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: codeUnit, maxLength: 20 }),
  fc.string({
    unit: fc.oneof(awkward, fc.constantFrom('a', 'é', '😀', '}:u:', '{x}')),
    maxLength: 20,
  }),
  fc.constantFrom('', ' ', '{', '}', '{}', '*', ':', 'u:', 't:', '\uD800', 'a\uDFFFb'),
  fc
    .tuple(
      fc.constantFrom('x', 'é', '😀', '{'),
      fc.constantFrom(127, 128, 129, 511, 512, 513, 10 * 1024),
    )
    .map(([unit, bytes]) => unit.repeat(Math.max(1, Math.floor(bytes / Buffer.byteLength(unit))))),
  fc.string({ unit: 'grapheme', minLength: 10 * 1024, maxLength: 10 * 1024 }),
);

export const userIdArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: awkwardString, weight: 6 },
  fc.integer(),
  fc.constantFrom(0, -0, -1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1.5),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, null, undefined, true, {}, [], ['a']),
  fc.double(),
);

const plainString = (maxLength: number) => fc.string({ unit: 'grapheme', minLength: 1, maxLength });

export const deviceArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  { arbitrary: plainString(30), weight: 3 },
  { arbitrary: awkwardString, weight: 3 },
  fc.constantFrom(null, 42, {}, ['phone']),
);

export const metaArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  {
    arbitrary: fc.dictionary(plainString(10), fc.string({ maxLength: 20 }), { maxKeys: 5 }),
    weight: 3,
  },
  { arbitrary: fc.dictionary(awkwardString, awkwardString, { maxKeys: 20 }), weight: 3 },
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.constant(null)), {
    minKeys: 1,
    maxKeys: 3,
  }),
  fc.constantFrom(
    null,
    'label',
    42,
    [],
    ['a'],
    { __proto__: 'x' },
    JSON.parse('{"__proto__":"x"}'),
  ),
);

function wellFormedString(value: unknown, maxBytes: number): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.isWellFormed() &&
    Buffer.byteLength(value, 'utf8') <= maxBytes
  );
}

/** The user id the store must report for an input, or null when it must refuse it. */
export function acceptedUserId(value: unknown): string | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : null;
  return wellFormedString(value, MAX_USER_ID_BYTES) ? value : null;
}

/** Whether a device must be accepted (absent counts as accepted). */
export function acceptedDevice(value: unknown): boolean {
  return value === undefined || value === null || wellFormedString(value, MAX_DEVICE_BYTES);
}

/** Whether a meta must be accepted (absent counts as accepted). */
export function acceptedMeta(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  if (entries.length > MAX_META_ENTRIES) return false;
  for (const [key, entry] of entries) {
    if (!wellFormedString(key, MAX_META_BYTES)) return false;
    if (typeof entry !== 'string' || !entry.isWellFormed()) return false;
  }
  return Buffer.byteLength(JSON.stringify(Object.fromEntries(entries)), 'utf8') <= MAX_META_BYTES;
}
