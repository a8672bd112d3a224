// What every command needs from the configuration: the database, and (for serving) the keyring.
import type { Config } from '../config.js';
import { type Keyring, loadOrCreateKeyFile, parseMasterKeys } from '../crypto/keyring.js';
import { checkDatabase, type Database, migrate, openDatabase } from '../db/database.js';

export async function withDatabase<T>(config: Config, action: (database: Database) => Promise<T>): Promise<T> {
  const database = openDatabase(config.database);
  try {
    await checkDatabase(database, config.database);
    await migrate(database);
    return await action(database);
  } finally {
    await database.close();
  }
}

/** SESAME_MASTER_KEY when set; otherwise (embedded SQLite only, enforced by loadConfig) the generated key file. */
export function loadKeyring(config: Config): { keyring: Keyring; createdFile?: string } {
  if (config.masterKey) return { keyring: parseMasterKeys(config.masterKey) };
  const { keyring, created } = loadOrCreateKeyFile(config.masterKeyFile);
  return { keyring, createdFile: created ? config.masterKeyFile : undefined };
}

/** Machine-readable command output: one JSON object on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Messages for people go to stderr. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}
