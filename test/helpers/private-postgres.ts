// A PostgreSQL server of the test's own, which it may stop and start: the machine's shared server is
// used by every other suite and must never be stopped. initdb refuses to run as root, so as root the
// server runs as the `postgres` user.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const POSTGRES_LIB = '/usr/lib/postgresql';

export interface PrivatePostgres {
  url: string;
  port: number;
  /** The cluster's data directory (its postmaster.pid names the server process). */
  dataDir: string;
  /** `fast` ends every session at once (what an operator's restart does); `immediate` is a crash. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'sesame-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(sockets);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = await postgresUser();
    chmodSync(dir, 0o755);
    for (const path of [data, sockets]) chownSync(path, uid, gid);
  }
  const port = await freePort();
  const pg = (args: string[]) => {
    const command = [join(bin, args[0] as string), ...args.slice(1)];
    return asRoot
      ? run('su', ['postgres', '-s', '/bin/sh', '-c', command.map(shellQuote).join(' ')], { timeout: 60_000 })
      : run(command[0] as string, command.slice(1), { timeout: 60_000 });
  };
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${sockets} -c fsync=off -c shared_buffers=16MB -c max_connections=50`;
  const start = async () => {
    await pg(['pg_ctl', '-D', data, '-l', join(sockets, 'server.log'), '-w', '-t', '30', '-o', options, 'start']);
  };
  await pg(['initdb', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  await start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir: data,
    async stop(mode = 'fast') {
      await pg(['pg_ctl', '-D', data, '-m', mode, '-w', 'stop']);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async remove() {
      if (running) await pg(['pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBin(): string {
  const versions = existsSync(POSTGRES_LIB) ? readdirSync(POSTGRES_LIB).sort((a, b) => Number(b) - Number(a)) : [];
  const bin = versions.map((v) => join(POSTGRES_LIB, v, 'bin')).find((b) => existsSync(join(b, 'initdb')));
  if (!bin) throw new Error(`no PostgreSQL server binaries under ${POSTGRES_LIB} (install postgresql)`);
  return bin;
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
