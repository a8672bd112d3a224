// Transport: Sesame serves HTTPS itself when TLS_CERT_FILE and TLS_KEY_FILE are set, reloads them on
// SIGHUP, refuses a bad pair at start-up, and warns when it serves plain HTTP beyond loopback.
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { loadTlsFiles } from '../src/crypto/tls.js';
import { serve as spawnServe } from './helpers/cluster.js';
import { OP_VAULT, TestFixture } from './helpers/fixture.js';
import { startTestServer } from './helpers/server.js';
import { makeSelfSignedCertificate, type TestCertificate } from './helpers/tls.js';
import { createBody, sleep, VAULTS } from './helpers/vaults.js';

const PLAIN_HTTP_WARNING = 'serving plain HTTP on a non-loopback address';

let dir: string;
let server: TestCertificate;
let other: TestCertificate;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-tls-'));
  server = makeSelfSignedCertificate(dir, 'server');
  other = makeSelfSignedCertificate(dir, 'other');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An HTTPS request that trusts only `ca`, reporting the negotiated protocol. */
function httpsCall(
  url: string,
  ca: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const protocol = (res.socket as TLSSocket).getProtocol();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, protocol }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The certificate a TLS client is shown at `port` (not trusting it: we only look). */
function peerCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprintOf = (cert: TestCertificate) => new X509Certificate(cert.cert).fingerprint256;

describe('TLS configuration', () => {
  it('needs both TLS_CERT_FILE and TLS_KEY_FILE, or neither', () => {
    expect(() => loadConfig({ TLS_CERT_FILE: server.certFile })).toThrow(ConfigError);
    expect(() => loadConfig({ TLS_KEY_FILE: server.keyFile })).toThrow(/must be set together/);
    expect(loadConfig({}).tls).toBeUndefined();
    expect(loadConfig({ TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile }).tls).toEqual({
      certFile: server.certFile,
      keyFile: server.keyFile,
    });
  });

  it('reads a matching pair, and names the variable and path of a file it cannot read', () => {
    expect(loadTlsFiles(server.certFile, server.keyFile).cert.toString()).toBe(server.cert);
    expect(() => loadTlsFiles(join(dir, 'missing.crt'), server.keyFile)).toThrow(
      `cannot read TLS_CERT_FILE (${join(dir, 'missing.crt')}): ENOENT`,
    );
    expect(() => loadTlsFiles(server.certFile, dir)).toThrow(`cannot read TLS_KEY_FILE (${dir}): EISDIR`);
  });

  it('refuses a key of another certificate, or a file that is not PEM, without quoting either', () => {
    let message = '';
    try {
      loadTlsFiles(server.certFile, other.keyFile);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/are not a usable certificate and private key: .*key values mismatch/);
    expect(message).not.toMatch(/BEGIN|PRIVATE KEY/);
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate');
    expect(() => loadTlsFiles(garbage, server.keyFile)).toThrow(/not a usable certificate and private key/);
  });

  it('stops start-up with that message (no port is opened)', async () => {
    await expect(
      startTestServer({ dialect: 'sqlite', env: { TLS_CERT_FILE: join(dir, 'missing.crt'), TLS_KEY_FILE: server.keyFile } }),
    ).rejects.toThrow(/cannot read TLS_CERT_FILE/);
    await expect(
      startTestServer({ dialect: 'sqlite', env: { TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: other.keyFile } }),
    ).rejects.toThrow(/key values mismatch/);
  });
});

describe('serving HTTPS', () => {
  it('serves the API over TLS 1.2+ with the configured certificate, and no plain HTTP', async () => {
    const t = await startTestServer({ dialect: 'sqlite', env: { TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile } });
    try {
      expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const port = Number(new URL(t.url).port);
      expect((await peerCertificate(port)).fingerprint256).toBe(fingerprintOf(server));

      const { key } = await t.newOrg();
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const created = await httpsCall(`${t.url}${VAULTS}`, server.cert, {
        method: 'POST',
        headers,
        body: JSON.stringify(createBody('over-tls', t.fixture.token([OP_VAULT]))),
      });
      expect(created.status).toBe(201);
      expect(['TLSv1.2', 'TLSv1.3']).toContain(created.protocol);
      const id = JSON.parse(created.text).id as string;
      expect(JSON.parse((await httpsCall(`${t.url}${VAULTS}/${id}/health`, server.cert, { headers })).text)).toEqual({
        ok: true,
        error: null,
      });

      // A client that does not trust the certificate is refused; plain HTTP gets no answer.
      await expect(httpsCall(`${t.url}/healthz`, other.cert)).rejects.toThrow(/self[- ]signed|unable to verify/i);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
      expect(t.logs.join('\n')).toContain('"protocol":"https"');
    } finally {
      await t.close();
    }
  });
});

describe('the plain-HTTP warning', () => {
  const warned = (logs: string[]) => logs.some((line) => line.includes(PLAIN_HTTP_WARNING) && line.includes('"level":40'));

  it('is logged when plain HTTP is served on a non-loopback address', async () => {
    const t = await startTestServer({ dialect: 'sqlite', env: { HOST: '0.0.0.0' } });
    try {
      expect(warned(t.logs)).toBe(true);
      expect((await fetch(`http://127.0.0.1:${new URL(t.url).port}/healthz`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('is not logged on loopback, nor when Sesame serves HTTPS on a non-loopback address', async () => {
    const loopback = await startTestServer({ dialect: 'sqlite' });
    const tls = await startTestServer({
      dialect: 'sqlite',
      env: { HOST: '0.0.0.0', TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile },
    });
    try {
      expect(loopback.logs.some((line) => line.includes('sesame is listening'))).toBe(true);
      expect(warned(loopback.logs)).toBe(false);
      expect(tls.logs.some((line) => line.includes('sesame is listening'))).toBe(true);
      expect(warned(tls.logs)).toBe(false);
    } finally {
      await loopback.close();
      await tls.close();
    }
  });
});

describe('sesame serve with TLS (the executable)', () => {
  it('reloads the certificate files on SIGHUP and keeps the old ones when the new ones are unusable', async () => {
    const live = join(dir, 'live');
    const fixture = new TestFixture();
    const certFile = join(dir, 'live.crt');
    const keyFile = join(dir, 'live.key');
    copyFileSync(server.certFile, certFile);
    copyFileSync(server.keyFile, keyFile);
    const instance = await spawnServe({
      PATH: process.env.PATH ?? '',
      DATABASE_URL: `sqlite:${join(live, 'sesame.db')}`,
      SESAME_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
      SESAME_ONEPASSWORD_FIXTURE: fixture.path,
      PORT: '0',
      TLS_CERT_FILE: certFile,
      TLS_KEY_FILE: keyFile,
    });
    try {
      const port = Number(new URL(instance.url).port);
      expect((await peerCertificate(port)).fingerprint256).toBe(fingerprintOf(server));

      copyFileSync(other.certFile, certFile);
      copyFileSync(other.keyFile, keyFile);
      instance.child.kill('SIGHUP');
      for (let i = 0; i < 50 && !instance.stderr().includes('reloaded TLS_CERT_FILE'); i++) await sleep(100);
      expect((await peerCertificate(port)).fingerprint256).toBe(fingerprintOf(other));

      writeFileSync(keyFile, 'broken');
      instance.child.kill('SIGHUP');
      for (let i = 0; i < 50 && !instance.stderr().includes('TLS files not reloaded'); i++) await sleep(100);
      expect(instance.stderr()).toContain('TLS files not reloaded; still serving the previous ones');
      expect((await peerCertificate(port)).fingerprint256).toBe(fingerprintOf(other));
      expect(instance.alive()).toBe(true);
    } finally {
      instance.child.kill('SIGTERM');
      expect(await instance.exited).toBe(0);
      fixture.remove();
    }
  });
});
