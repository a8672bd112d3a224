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
import {
  createKeyMaintenance,
  describeServer,
  type RewrapOptions,
  type RewrapProgress,
  runningServers,
  type VerifyReport,
} from '../modules/vaults/index.js';
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

/**
 * Adds a freshly generated current key (id `kN`, or `id`); older keys stay so existing records still
 * open. Says on stderr what must happen before a rewrap: servers read their keys only at start.
 */
export function rotateKeysCommand(config: Config, id?: string, tell: (line: string) => void = say): KeyListResult {
  const result = changeKeys(config, (keyring) => withNewCurrentKey(keyring, id));
  const [current, previous] = result.keys;
  tell(
    result.key_file
      ? `${current} is now the current master key in ${result.key_file}. Running servers keep sealing with ${previous} and cannot open ` +
          `what ${current} seals until they restart: restart every running sesame serve, then run sesame keys rewrap.`
      : `${current} is the new current master key. Deploy the SESAME_MASTER_KEY printed on stdout to every instance and restart them ` +
          `(several instances: first with ${current} last, then first; see docs/security.md), then run sesame keys rewrap with it.`,
  );
  return result;
}

const PROGRESS_INTERVAL_MS = 2_000;

/** `--batch-size`: rows per transaction of a rewrap. */
export function parseBatchSize(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 10_000) throw new InvalidArgumentError('must be an integer from 1 to 10000');
  return value;
}

/**
 * Rewraps every data key under the current master key, in batches; safe to stop and run again.
 * Refused while a running server lacks the current key: it could not open what the rewrap seals.
 */
export async function rewrapKeysCommand(
  config: Config,
  options: RewrapOptions = {},
  tell: (line: string) => void = say,
): Promise<RewrapProgress & { current: string }> {
  const keyring = configuredKeyring(config);
  return withDatabase(config, async (database) => {
    const current = keyring.current.id;
    const servers = await runningServers(database.db);
    const lacking = servers.filter((s) => !s.key_ids.includes(current));
    if (lacking.length > 0) {
      throw new Error(
        `${lacking.length} running server(s) do not have master key '${current}' and could not open what the rewrap seals with it: ` +
          `${lacking.map(describeServer).join(', ')}. Restart them with the new key list first`,
      );
    }
    const older = servers.filter((s) => s.current_key_id !== current);
    if (older.length > 0) {
      tell(
        `note: ${older.length} running server(s) still seal new tokens with an older key (${[...new Set(older.map((s) => s.current_key_id))].join(', ')}); ` +
          `tokens they rotate stay under it until they restart with '${current}' first and you run rewrap again`,
      );
    }
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

/**
 * Removes a non-current key. Refused, with the reason, when it is the current key of the configured
 * list, while a running server still seals with it, or while any record is still wrapped by it.
 */
export async function retireKeyCommand(config: Config, id: string, tell: (line: string) => void = say): Promise<KeyListResult> {
  const keyring = configuredKeyring(config);
  withoutKey(keyring, id); // the current key, or one not configured: refused before anything else
  return withDatabase(config, async (database) => {
    const sealing = (await runningServers(database.db)).filter((s) => s.current_key_id === id);
    if (sealing.length > 0) {
      throw new Error(
        `master key '${id}' is still the current key of ${sealing.length} running server(s), which seal new tokens with it: ` +
          `${sealing.map(describeServer).join(', ')}. Restart them with the new key list, run sesame keys rewrap, then retire '${id}'`,
      );
    }
    const inUse = (await keyMaintenance(keyring, database).usage())[id] ?? 0;
    if (inUse > 0) throw new Error(`master key '${id}' still wraps ${inUse} stored token(s): run sesame keys rewrap first`);
    const result = changeKeys(config, (keys) => withoutKey(keys, id));
    tell(
      result.key_file
        ? `'${id}' is removed from ${result.key_file}; back up the new key file. Running servers drop it at their next restart.`
        : `'${id}' is removed: deploy the SESAME_MASTER_KEY printed on stdout to every instance.`,
    );
    return result;
  });
}
