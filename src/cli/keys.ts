// `sesame keys …`: rotate the master key, rewrap stored data keys under the current one, verify that
// every record decrypts, and retire a key nothing uses any more. The runbook is in docs/security.md.
import { existsSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import type { Config } from '../config.js';
import { createEnvelope } from '../crypto/envelope.js';
import {
  formatMasterKeys,
  type Keyring,
  parseMasterKeys,
  readKeyFile,
  updateKeyFile,
  withNewCurrentKey,
  withoutKey,
} from '../crypto/keyring.js';
import type { Database } from '../db/database.js';
import { createKeyMaintenance, type RewrapOptions, type RewrapProgress, type VerifyReport } from '../modules/vaults/index.js';
import { say, withDatabase } from './runtime.js';

export interface KeyListResult {
  current: string;
  keys: string[];
  /** Where the new list was written (key file mode). */
  key_file?: string;
  /**
   * Environment mode: the value the operator must deploy, since a command cannot change the server's
   * environment. Printed only on the operator's own terminal, as the purpose of the command; never logged.
   */
  SESAME_MASTER_KEY?: string;
}

/** The configured keys, never creating a key file: a keys command must not invent a key the data was not sealed with. */
function configuredKeyring(config: Config): Keyring {
  if (config.masterKey) return parseMasterKeys(config.masterKey);
  if (!existsSync(config.masterKeyFile)) {
    throw new Error(`no master key: SESAME_MASTER_KEY is not set and there is no key file at ${config.masterKeyFile}`);
  }
  return readKeyFile(config.masterKeyFile);
}

/** Applies `change` to the key list: rewrites the key file, or returns the new SESAME_MASTER_KEY value to deploy. */
function changeKeys(config: Config, change: (keyring: Keyring) => Keyring): KeyListResult {
  if (config.masterKey) {
    const keyring = change(parseMasterKeys(config.masterKey));
    return { current: keyring.current.id, keys: keyring.ids, SESAME_MASTER_KEY: formatMasterKeys(keyring.keys) };
  }
  configuredKeyring(config); // a clear error when there is no key file
  const keyring = updateKeyFile(config.masterKeyFile, change);
  return { current: keyring.current.id, keys: keyring.ids, key_file: config.masterKeyFile };
}

function keyMaintenance(keyring: Keyring, database: Database) {
  return createKeyMaintenance({ db: database.db, envelope: createEnvelope(keyring) });
}

/** Adds a freshly generated current key (id `kN`, or `id`); older keys stay so existing records still open. */
export function rotateKeysCommand(config: Config, id?: string): KeyListResult {
  return changeKeys(config, (keyring) => withNewCurrentKey(keyring, id));
}

const PROGRESS_INTERVAL_MS = 2_000;

/** `--batch-size`: rows per transaction of a rewrap. */
export function parseBatchSize(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 10_000) throw new InvalidArgumentError('must be an integer from 1 to 10000');
  return value;
}

/** Rewraps every data key under the current master key, in batches; safe to stop and run again. */
export async function rewrapKeysCommand(config: Config, options: RewrapOptions = {}): Promise<RewrapProgress & { current: string }> {
  const keyring = configuredKeyring(config);
  return withDatabase(config, async (database) => {
    let lastReport = Date.now();
    const progress = await keyMaintenance(keyring, database).rewrap({
      ...options,
      onBatch: async (soFar) => {
        if (Date.now() - lastReport >= PROGRESS_INTERVAL_MS) {
          lastReport = Date.now();
          say(`rewrap: ${soFar.rewrapped} rewrapped, ${soFar.skipped} skipped, ${soFar.failed.length} failed so far`);
        }
        await options.onBatch?.(soFar);
      },
    });
    return { current: keyring.current.id, ...progress };
  });
}

/** Decrypts (authenticates) every stored token and lists the records that fail, without any secret. */
export async function verifyKeysCommand(config: Config): Promise<VerifyReport & { current: string }> {
  const keyring = configuredKeyring(config);
  return withDatabase(config, async (database) => ({ current: keyring.current.id, ...(await keyMaintenance(keyring, database).verify()) }));
}

/** Removes a non-current key, refusing while any record is still wrapped by it. */
export function retireKeyCommand(config: Config, id: string): Promise<KeyListResult> {
  return withDatabase(config, async (database) => {
    const inUse = (await keyMaintenance(configuredKeyring(config), database).usage())[id] ?? 0;
    if (inUse > 0) throw new Error(`master key '${id}' still wraps ${inUse} stored token(s): run sesame keys rewrap first`);
    return changeKeys(config, (keyring) => withoutKey(keyring, id));
  });
}
