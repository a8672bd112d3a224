// The certificate and private key for serving HTTPS directly (TLS_CERT_FILE, TLS_KEY_FILE).
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new Error(`cannot read ${variable} (${path}): ${code}`);
  }
}

/**
 * Reads the pair and checks that they make a usable TLS context, so a bad file stops start-up with a
 * message naming it instead of failing every handshake later. Also used to reload renewed files.
 */
export function loadTlsFiles(certFile: string, keyFile: string): TlsFiles {
  const cert = readPem('TLS_CERT_FILE', certFile);
  const key = readPem('TLS_KEY_FILE', keyFile);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's reasons ("no start line", "key values mismatch") describe the problem, never the file contents.
    const reason = err instanceof Error ? err.message.replace(/^error:[0-9A-F]+:/, '') : 'unusable';
    throw new Error(`TLS_CERT_FILE (${certFile}) and TLS_KEY_FILE (${keyFile}) are not a usable certificate and private key: ${reason}`);
  }
  return { cert, key };
}
