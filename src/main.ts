// CLI entry: every command is a thin wrapper over an exported action in src/cli/.
import { Command } from 'commander';
import { createApiKeyCommand, revokeApiKeyCommand } from './cli/api-key.js';
import { mintTokenCommand } from './cli/fixture.js';
import { migrateCommand } from './cli/migrate.js';
import { createOrgCommand } from './cli/org.js';
import { printJson } from './cli/runtime.js';
import { serveCommand } from './cli/serve.js';
import { loadConfig } from './config.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('sesame')
    .description('Vault configs and secret fill for browser agents, backed by 1Password')
    .showHelpAfterError();

  program
    .command('serve')
    .description('migrate the database if needed, then serve the API until SIGINT/SIGTERM')
    .action(() => serveCommand(loadConfig()));

  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => printJson(await migrateCommand(loadConfig())));

  const org = program.command('org').description('organizations');
  org
    .command('create')
    .requiredOption('--name <name>', 'organization name')
    .action(async (opts: { name: string }) => printJson(await createOrgCommand(loadConfig(), opts.name)));

  const apiKey = program.command('api-key').description('API keys');
  apiKey
    .command('create')
    .requiredOption('--org <org id>', 'organization id')
    .option('--name <label>', 'a label for the key')
    .action(async (opts: { org: string; name?: string }) => printJson(await createApiKeyCommand(loadConfig(), opts.org, opts.name)));
  apiKey
    .command('revoke')
    .requiredOption('--id <key id>', 'API key id')
    .action(async (opts: { id: string }) => printJson(await revokeApiKeyCommand(loadConfig(), opts.id)));

  const fixture = program.command('fixture').description('the 1Password fixture backend (tests and demos only)');
  fixture
    .command('mint-token')
    .description('print a structurally valid fake service account token (it works only against a fixture file)')
    .option('--seed <text>', 'derive the token from this text (same seed, same token)')
    .action((opts: { seed?: string }) => printJson(mintTokenCommand(opts.seed)));

  await program.parseAsync(argv);
}
