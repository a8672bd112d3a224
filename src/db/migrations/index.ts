// Migrations are listed in code (not read from a folder) so they work the same from src/ and dist/.
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
