import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLoggerOptions } from './logging.js';

describe('logger redaction', () => {
  it('censors tokens, authorization headers and bodies wherever a log object carries them, at any depth', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = Fastify({ logger: createLoggerOptions('debug', stream) });
    app.log.info({ token: 'canary-1', vault: { token: 'canary-2' } }, 'direct');
    app.log.info({ req: { headers: { authorization: 'Bearer canary-3' } }, headers: { authorization: 'Bearer canary-4' } }, 'headers');
    app.log.info({ body: { name: 'x', token: 'canary-5' }, request: { body: 'canary-6' } }, 'bodies');
    app.log.info({ a: { b: { c: { Token: 'canary-7' } } }, list: [{ authorization: 'canary-8' }], kept: 'visible' }, 'deep');
    await app.close();
    const output = lines.join('');
    expect(output).toContain('[redacted]');
    for (let i = 1; i <= 8; i++) expect(output).not.toContain(`canary-${i}`);
    expect(output).toContain('visible');
  });
});
