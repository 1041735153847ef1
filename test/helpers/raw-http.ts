import { connect } from 'node:net';

/** A response as it came off the socket. */
export interface RawResponse {
  status: number;
  /** Header names in lower case; repeated ones joined with ', '. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends bytes exactly as given to a loopback port and reads the answer until the server
 * closes the connection, so requests no HTTP client would build (repeated headers, control
 * characters, invalid UTF-8) reach the server unchanged. The request should say
 * `Connection: close`.
 */
export function sendRaw(port: number, request: Buffer, timeout = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeout} ms`));
    }, timeout);
    // Not end(): Node's server drops a half-closed connection before an async handler answers.
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may answer and hang up before it read all of a huge request.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const response = parseResponse(text);
      if (response === null) reject(new Error(`no HTTP answer, got ${JSON.stringify(text)}`));
      else resolve(response);
    });
  });
}

function parseResponse(text: string): RawResponse | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (match === null) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(match[1]), headers, body: text.slice(end + 4) };
}
