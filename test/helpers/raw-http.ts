// HTTP/1.1 over a bare socket, byte for byte as given: methods, targets and headers no HTTP client
// library would send (duplicates, odd bytes, conflicting framing). One request per connection.
import net from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target exactly as written on the request line. */
  target: string;
  /** In order; a name may repeat. Values are written as latin1 bytes. */
  headers: [string, string][];
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
  /** Leave out the Host header (HTTP/1.1 requires it). */
  omitHost?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Sends `request` and resolves with the final (non-1xx) response, or undefined if the server closed without one. */
export function sendRaw(url: string, request: RawRequest, timeoutMs = 15_000): Promise<RawResponse | undefined> {
  const { hostname, port } = new URL(url);
  const body = request.body ?? Buffer.alloc(0);
  const lines = [
    `${request.method} ${request.target} HTTP/1.1`,
    ...(request.omitHost ? [] : [`Host: ${hostname}:${port}`]),
    'Connection: close',
  ];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  if (request.chunked) lines.push('Transfer-Encoding: chunked');
  else if (body.length > 0 || ['POST', 'PUT', 'PATCH'].includes(request.method)) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const payload = request.chunked
    ? Buffer.concat([
        ...(body.length > 0 ? [Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')] : []),
        Buffer.from('0\r\n\r\n'),
      ])
    : body;

  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${request.method} ${request.target.slice(0, 200)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may answer (e.g. 413) and close before reading the whole body: what it sent still counts.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks), request.method === 'HEAD'));
      } catch (err) {
        reject(err);
      }
    });
    socket.write(Buffer.concat([head, payload]));
  });
}

function parseResponse(raw: Buffer, head: boolean): RawResponse | undefined {
  let rest = raw;
  for (;;) {
    if (rest.length === 0) return undefined;
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete response head: ${rest.toString('latin1').slice(0, 200)}`);
    const [statusLine = '', ...headerLines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    if (!status) throw new Error(`bad status line: ${statusLine}`);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      headers[name] = headers[name] === undefined ? line.slice(colon + 1).trim() : `${headers[name]}, ${line.slice(colon + 1).trim()}`;
    }
    rest = rest.subarray(end + 4);
    if (status < 200) continue; // 100 Continue: the real answer follows
    if (head || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') return { status, headers, body: dechunk(rest) };
    const length = headers['content-length'];
    return { status, headers, body: length === undefined ? rest : rest.subarray(0, Number(length)) };
  }
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('truncated chunked body');
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
