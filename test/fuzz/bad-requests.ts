import fc from 'fast-check';
import { parseToken } from '../../lib/token-format.js';

/*
 * Malformed requests for the bearer strategy, and what the server must answer to each.
 * Every token generated here fails the format check, so none may cost a Redis command.
 *
 * The answer comes from one of two places. Node's HTTP parser refuses some requests itself
 * before Express sees them: a header value with a control character other than tab (400), a
 * request target with a control character, space or non-ASCII byte (400), a header section
 * over 16 KiB (431). Everything else reaches the strategy, which follows RFC 6750 section 2:
 * a missing token is 401 with a bare challenge, a malformed request (Authorization not
 * `<scheme> <token>`, repeated, or a token in several places or not a string) is 400, and
 * any token it cannot verify is 401 with error="invalid_token".
 */

export interface BadRequest {
  category: string;
  /** Authorization header lines: the name as spelled and the raw value bytes. */
  authorization: Array<{ name: string; value: Buffer }>;
  /** `access_token` values in the query string; raw ones are sent unencoded. */
  query: { values: Buffer[]; raw: boolean } | null;
  /** `access_token` in a JSON body (any JSON value; undefined leaves it out) or a form. */
  body: { type: 'json'; value: unknown } | { type: 'form'; values: Buffer[] } | null;
}

export interface Expected {
  by: 'node' | 'app';
  status: number;
  /** The WWW-Authenticate challenge of a 401 from the app. */
  challenge?: string;
}

const NODE_MAX_HEADER_BYTES = 16 * 1024;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CHALLENGE = 'Bearer realm="Users"';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const base62 = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...BASE62), minLength: min, maxLength: max });

/** Tokens that look almost right: only the format check stands between them and Redis. */
const nearTokens: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom('mt_', 'mt', 'mt__', 'MT_').map(bytes),
  // Right prefix and length, wrong checksum.
  fc
    .tuple(base62(57, 57), base62(6, 6))
    .map(([body, sum]) => `mt_${body}${sum}`)
    .filter((token) => parseToken('mt_', token) === null)
    .map(bytes),
  // Wrong prefix.
  fc
    .tuple(fc.constantFrom('xt_', 'mt-', 'Mt_', 'bt_', '_mt'), base62(63, 63))
    .map(([prefix, body]) => bytes(prefix + body)),
  // Wrong length.
  fc.oneof(base62(1, 62), base62(64, 90)).map((body) => bytes(`mt_${body}`)),
);

const printable = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 80,
});

/** A near token with some bytes spliced in at one place. */
function spliced(insert: fc.Arbitrary<readonly number[]>): fc.Arbitrary<Buffer> {
  return fc.tuple(nearTokens, fc.nat(), insert).map(([token, at, extra]) => {
    const cut = at % (token.length + 1);
    return Buffer.concat([token.subarray(0, cut), Buffer.from(extra), token.subarray(cut)]);
  });
}

// CR LF together would end the header line and start another: a different request.
const controlBytes = spliced(
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f)), {
      minLength: 1,
      maxLength: 4,
    })
    .filter((extra) => !Buffer.from(extra).includes('\r\n')),
);

const invalidUtf8 = spliced(
  fc.oneof(
    fc.constantFrom([0xff], [0xc3], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80]),
    fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 5 }),
  ),
);

const hugeToken = fc
  .tuple(fc.constantFrom('mt_', ''), fc.constantFrom(...BASE62))
  .map(([prefix, char]) => bytes(prefix + char.repeat(64 * 1024)));

const anyBadToken = fc.oneof(nearTokens, printable.map(bytes));

const header = (value: Buffer, name = 'Authorization') => [{ name, value }];
const bearer = (token: Buffer, scheme = 'Bearer', gap = ' ') =>
  Buffer.concat([bytes(scheme + gap), token]);

type Place = 'header' | 'query' | 'json' | 'form';

/** A request carrying one token in one place. */
function placed(category: string, token: Buffer, place: Place): BadRequest {
  return {
    category,
    authorization: place === 'header' ? header(bearer(token)) : [],
    query: place === 'query' ? { values: [token], raw: false } : null,
    body:
      place === 'json'
        ? { type: 'json', value: token.toString('latin1') }
        : place === 'form'
          ? { type: 'form', values: [token] }
          : null,
  };
}

const place = fc.constantFrom<Place>('header', 'query', 'json', 'form');

const categories: Array<fc.Arbitrary<BadRequest>> = [
  anyBadToken.map((token) => ({
    ...placed('no scheme', token, 'header'),
    authorization: header(token),
  })),
  fc
    .tuple(
      fc.constantFrom('Basic', 'Token', 'MAC', 'Digest', 'Bearer:', 'Bearerx', 'bearer', 'BEARER'),
      anyBadToken,
    )
    .map(([scheme, token]) => ({
      ...placed('wrong scheme', token, 'header'),
      authorization: header(bearer(token, scheme)),
    })),
  fc
    .tuple(fc.integer({ min: 2, max: 5 }), anyBadToken, fc.boolean())
    .map(([spaces, token, trailingWord]) => ({
      ...placed('several spaces', token, 'header'),
      authorization: header(
        trailingWord
          ? Buffer.concat([bearer(token), bytes(' extra')])
          : bearer(token, 'Bearer', ' '.repeat(spaces)),
      ),
    })),
  fc
    .tuple(fc.constantFrom('Bearer\t', 'Bearer \t', '\tBearer ', ' \t Bearer '), anyBadToken)
    .map(([start, token]) => ({
      ...placed('tabs', token, 'header'),
      authorization: header(Buffer.concat([bytes(start), token, bytes('\t')])),
    })),
  fc
    .tuple(
      fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION'),
      anyBadToken,
      anyBadToken,
    )
    .map(([second, a, b]) => ({
      ...placed('duplicate headers', a, 'header'),
      authorization: [...header(bearer(a)), ...header(bearer(b), second)],
    })),
  fc
    .tuple(place, place, anyBadToken, anyBadToken)
    // A body is JSON or a form, not both; the query and a form may repeat the parameter.
    .filter(([a, b]) => (a !== b || a === 'query' || a === 'form') && a + b !== 'jsonform')
    .filter(([a, b]) => a + b !== 'formjson')
    .map(([first, second, a, b]) => twoPlaces(placed('token in two places', a, first), b, second)),
  fc.tuple(hugeToken, place).map(([token, where]) => placed('64 KiB token', token, where)),
  fc.tuple(controlBytes, place).map(([token, where]) => placed('control characters', token, where)),
  controlBytes.map((token) => rawQuery('control characters', token)),
  fc.tuple(invalidUtf8, place).map(([token, where]) => placed('invalid UTF-8', token, where)),
  invalidUtf8.map((token) => rawQuery('invalid UTF-8', token)),
  fc.tuple(nearTokens, place).map(([token, where]) => placed('near-miss token', token, where)),
  fc.constantFrom<unknown>(42, 0, true, null, ['mt_'], { token: 'mt_' }, []).map((value) => ({
    ...placed('non-string token', bytes(''), 'json'),
    body: { type: 'json', value },
  })),
  fc.constantFrom('', 'Bearer', 'Bearer ', ' ', 'Basic').map((value) => ({
    ...placed('empty credentials', bytes(''), 'header'),
    authorization: header(bytes(value)),
  })),
  fc
    .constantFrom<Place>('query', 'form', 'json')
    .map((where) => placed('empty credentials', bytes(''), where)),
];

function rawQuery(category: string, token: Buffer): BadRequest {
  return { category, authorization: [], query: { values: [token], raw: true }, body: null };
}

/** Adds a second token in another place (or a repeated query or form parameter). */
function twoPlaces(req: BadRequest, token: Buffer, where: Place): BadRequest {
  switch (where) {
    case 'header':
      return { ...req, authorization: header(bearer(token)) };
    case 'query':
      return { ...req, query: { values: [...(req.query?.values ?? []), token], raw: false } };
    case 'json':
      return { ...req, body: { type: 'json', value: token.toString('latin1') } };
    case 'form': {
      const values = req.body?.type === 'form' ? req.body.values : [];
      return { ...req, body: { type: 'form', values: [...values, token] } };
    }
  }
}

export const badRequestArb: fc.Arbitrary<BadRequest> = fc.oneof(...categories);

/** Percent-encodes every byte but the unreserved ones of RFC 3986. */
function percentEncode(value: Buffer): string {
  let out = '';
  for (const byte of value) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** JSON text of a value, keeping strings' bytes above 0x7f raw (so invalid UTF-8 stays so). */
function jsonBytes(value: unknown): Buffer {
  if (typeof value !== 'string') return Buffer.from(JSON.stringify({ access_token: value }));
  const parts: Buffer[] = [bytes('{"access_token":"')];
  for (const byte of Buffer.from(value, 'latin1')) {
    if (byte < 0x20 || byte === 0x7f) parts.push(bytes(`\\u${byte.toString(16).padStart(4, '0')}`));
    else if (byte === 0x22 || byte === 0x5c) parts.push(bytes(`\\${String.fromCharCode(byte)}`));
    else parts.push(Buffer.from([byte]));
  }
  parts.push(bytes('"}'));
  return Buffer.concat(parts);
}

/** The bytes on the wire. */
export function requestBytes(req: BadRequest): { head: Buffer; body: Buffer } {
  const query = req.query?.values.map((value) =>
    Buffer.concat([bytes('access_token='), req.query?.raw ? value : bytes(percentEncode(value))]),
  );
  const target = query ? Buffer.concat([bytes('/me?'), ...join(query, bytes('&'))]) : bytes('/me');
  let body: Buffer = Buffer.alloc(0);
  let type = '';
  if (req.body?.type === 'json') {
    body = jsonBytes(req.body.value);
    type = 'application/json';
  } else if (req.body?.type === 'form') {
    const pairs = req.body.values.map((value) => bytes(`access_token=${percentEncode(value)}`));
    body = Buffer.concat(join(pairs, bytes('&')));
    type = 'application/x-www-form-urlencoded';
  }
  const lines: Buffer[] = [
    Buffer.concat([bytes(req.body ? 'POST ' : 'GET '), target, bytes(' HTTP/1.1')]),
    bytes('Host: 127.0.0.1'),
    bytes('Connection: close'),
    ...req.authorization.map(({ name, value }) => Buffer.concat([bytes(`${name}: `), value])),
  ];
  if (req.body) lines.push(bytes(`Content-Type: ${type}`), bytes(`Content-Length: ${body.length}`));
  const head = Buffer.concat([...join(lines, bytes('\r\n')), bytes('\r\n\r\n')]);
  return { head, body };
}

function join(parts: Buffer[], separator: Buffer): Buffer[] {
  return parts.flatMap((part, i) => (i === 0 ? [part] : [separator, part]));
}

/** What the server must answer, from the rules in this file's header. */
export function expectedAnswer(req: BadRequest): Expected {
  const headerByteOk = (b: number) => b === 0x09 || (b >= 0x20 && b !== 0x7f);
  if (req.authorization.some(({ value }) => !value.every(headerByteOk))) {
    return { by: 'node', status: 400 };
  }
  if (req.query?.raw && req.query.values.some((v) => !v.every((b) => b >= 0x21 && b <= 0x7e))) {
    return { by: 'node', status: 400 };
  }
  if (requestBytes(req).head.length > NODE_MAX_HEADER_BYTES) return { by: 'node', status: 431 };

  const malformed: Expected = { by: 'app', status: 400 };
  const found: string[] = [];
  if (req.authorization.length > 1) return malformed;
  if (req.authorization.length === 1) {
    // Node drops the spaces and tabs around a header value.
    const value = req.authorization[0].value.toString('latin1').replace(/^[ \t]+|[ \t]+$/g, '');
    const parts = value.split(' ');
    if (parts.length !== 2) return malformed;
    if (/^bearer$/i.test(parts[0])) found.push(parts[1]);
  }
  for (const values of [
    req.body?.type === 'form' ? req.body.values : [],
    req.query?.values ?? [],
  ]) {
    if (values.length > 1) return malformed;
    if (values.length === 1 && values[0].length > 0) found.push('token');
  }
  if (req.body?.type === 'json' && req.body.value !== undefined && req.body.value !== '') {
    if (typeof req.body.value !== 'string') return malformed;
    found.push(req.body.value);
  }
  if (found.length > 1) return malformed;
  if (found.length === 0 || found[0] === '')
    return { by: 'app', status: 401, challenge: CHALLENGE };
  return { by: 'app', status: 401, challenge: `${CHALLENGE}, error="invalid_token"` };
}
