// A 1Password fixture file in a temp directory, with helpers to change it while a server runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintFakeToken } from '../../src/providers/onepassword/fake-token.js';

/** The fixture file as written on disk (docs/onepassword.md, "The fixture file"). */
export interface FixtureFile {
  tokens: Record<string, { vaults: string[]; state: 'active' | 'revoked' | 'expired' }>;
  vaults: Record<string, { title: string; items: unknown[] }>;
  faults: { latency_ms?: number; unavailable?: boolean; rate_limit_after?: number | null };
}

export const OP_VAULT = 'shared7turaasywpymt3jecxo';
export const OTHER_OP_VAULT = 'other7turaasywpymt3jecxoq';

export class TestFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'sesame-fixture-'));
  readonly path = join(this.dir, 'fixture.json');
  data: FixtureFile;

  constructor(data?: FixtureFile) {
    this.data = data ?? {
      tokens: {},
      vaults: { [OP_VAULT]: { title: 'Shared', items: [] }, [OTHER_OP_VAULT]: { title: 'Other', items: [] } },
      faults: {},
    };
    this.write();
  }

  /** Mints a token that the fixture accepts for `vaults`. */
  token(vaults: string[] = [OP_VAULT], state: 'active' | 'revoked' | 'expired' = 'active', seed = `t-${Math.random()}`): string {
    const token = mintFakeToken({ seed });
    this.data.tokens[token] = { vaults, state };
    this.write();
    return token;
  }

  setState(token: string, state: 'active' | 'revoked' | 'expired'): void {
    const entry = this.data.tokens[token];
    if (!entry) throw new Error('unknown fixture token');
    entry.state = state;
    this.write();
  }

  setFaults(faults: FixtureFile['faults']): void {
    this.data.faults = faults;
    this.write();
  }

  write(): void {
    writeFileSync(this.path, JSON.stringify(this.data, null, 1));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
