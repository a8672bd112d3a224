// Debian's Chromium, headless, exposing CDP on a free port: the "agent's browser" of `sesame demo`
// and of the end-to-end suites. One per test file; its whole process group is killed on close.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags this machine needs (its network is closed: no background traffic, no QUIC, no sync). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--remote-debugging-port=0',
];

export interface LaunchedChromium {
  /** http://127.0.0.1:<port>, as an agent runner would hand it over. */
  cdpEndpoint: string;
  /** ws://127.0.0.1:<port>/devtools/browser/<id> */
  wsEndpoint: string;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Extra command-line flags, e.g. host resolver rules. */
  args?: string[];
  timeoutMs?: number;
}

export async function launchChromium({ args = [], timeoutMs = 20_000 }: LaunchOptions = {}): Promise<LaunchedChromium> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'sesame-chromium-'));
  // Its own process group, so that close() can end the browser and every helper process it forked.
  const child = spawn(CHROMIUM_PATH, [...FLAGS, `--user-data-dir=${userDataDir}`, ...args, 'about:blank'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let failed: Error | undefined;
  child.once('error', (err) => {
    failed = err; // e.g. ENOENT: no Chromium at that path
  });
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => killGroup(child);
  process.once('exit', kill);

  const portFile = join(userDataDir, 'DevToolsActivePort');
  const deadline = Date.now() + timeoutMs;
  let lines: string[] = [];
  while (Date.now() < deadline && child.exitCode === null && !failed) {
    if (existsSync(portFile)) {
      lines = readFileSync(portFile, 'utf8').split('\n');
      if (lines.length >= 2 && lines[1]) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const [port, path] = lines;
  if (!port || !path) {
    kill();
    rmSync(userDataDir, { recursive: true, force: true });
    const reason = failed ? failed.message : stderr.split('\n').slice(-5).join(' | ');
    throw new Error(`Chromium did not start (${CHROMIUM_PATH}; on Debian: apt-get install chromium): ${reason}`);
  }
  return {
    cdpEndpoint: `http://127.0.0.1:${port}`,
    wsEndpoint: `ws://127.0.0.1:${port}${path}`,
    async close() {
      process.removeListener('exit', kill);
      kill();
      // A timer left pending would hold the process open for its 5 s after the browser is gone.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
      clearTimeout(timer);
      removeSingletonDir(userDataDir);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Chromium keeps its single-instance socket in a directory of its own in the temporary directory
 * (org.chromium.Chromium.*), linked from the profile as SingletonSocket, and removes it only on a
 * clean exit, which a killed process group never has: remove it with the profile.
 */
function removeSingletonDir(userDataDir: string): void {
  try {
    const socketDir = dirname(readlinkSync(join(userDataDir, 'SingletonSocket')));
    if (basename(socketDir).startsWith('org.chromium.Chromium.')) rmSync(socketDir, { recursive: true, force: true });
  } catch {
    // no socket link: nothing to remove
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
