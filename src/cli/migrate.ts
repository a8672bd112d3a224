import type { Config } from '../config.js';
import { checkDatabase, migrate, openDatabase } from '../db/database.js';

export async function migrateCommand(config: Config): Promise<{ applied: string[] }> {
  const database = openDatabase(config.database);
  try {
    await checkDatabase(database, config.database);
    return { applied: await migrate(database) };
  } finally {
    await database.close();
  }
}
