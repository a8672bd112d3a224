// CLI entry: every command is a thin wrapper over an exported action in src/cli/.
import { Command } from 'commander';
import { parseBatchSize, retireKeyCommand, rewrapKeysCommand, rotateKeysCommand, verifyKeysCommand } from './cli/keys.js';
import { printJson, say } from './cli/runtime.js';
import { loadConfig, loadMcpClientConfig } from './config.js';

// `serve` and `demo` load their modules on demand: they pull in Fastify, Playwright and the providers,
// which would otherwise cost every short command (org, api-key, keys) a second of start-up.
const apiKeyCli = () => import('./cli/api-key.js');

export async function main(argv: string[]): Promise<void> {
  const program = new Command('sesame')
    .description('Vault configs and secret fill for browser agents, backed by 1Password')
    .showHelpAfterError();

  program
    .command('serve')
    .description('migrate the database if needed, then serve the API until SIGINT/SIGTERM')
    .action(async () => (await import('./cli/serve.js')).serveCommand(loadConfig()));

  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => printJson(await (await import('./cli/migrate.js')).migrateCommand(loadConfig())));

  const org = program.command('org').description('organizations');
  org
    .command('create')
    .requiredOption('--name <name>', 'organization name')
    .action(async (opts: { name: string }) => printJson(await (await import('./cli/org.js')).createOrgCommand(loadConfig(), opts.name)));

  const apiKey = program.command('api-key').description('API keys');
  apiKey
    .command('create')
    .requiredOption('--org <org id>', 'organization id')
    .option('--name <label>', 'a label for the key')
    .action(async (opts: { org: string; name?: string }) =>
      printJson(await (await apiKeyCli()).createApiKeyCommand(loadConfig(), opts.org, opts.name)),
    );
  apiKey
    .command('revoke')
    .requiredOption('--id <key id>', 'API key id')
    .action(async (opts: { id: string }) => printJson(await (await apiKeyCli()).revokeApiKeyCommand(loadConfig(), opts.id)));

  const keys = program.command('keys').description('master keys (runbook: docs/security.md)');
  keys
    .command('rotate')
    .description('add a new current master key; older keys stay to open existing records')
    .option('--id <key id>', 'id of the new key (default: the next kN)')
    .action((opts: { id?: string }) => printJson(rotateKeysCommand(loadConfig(), opts.id)));
  keys
    .command('rewrap')
    .description('re-wrap every stored data key under the current master key, in batches, while the API serves')
    .option('--batch-size <n>', 'rows per batch (1-10000)', parseBatchSize, 100)
    .action(async (opts: { batchSize: number }) => {
      const result = await rewrapKeysCommand(loadConfig(), { batchSize: opts.batchSize });
      printJson(result);
      if (result.failed.length > 0) process.exitCode = 1;
    });
  keys
    .command('verify')
    .description('decrypt every stored record and list those that fail (never a secret); exits 1 when any fails')
    .action(async () => {
      const result = await verifyKeysCommand(loadConfig());
      printJson(result);
      if (result.failed.length > 0) process.exitCode = 1;
    });
  keys
    .command('retire')
    .description('remove an old master key, once no stored record uses it')
    .requiredOption('--id <key id>', 'id of the key to remove')
    .action(async (opts: { id: string }) => printJson(await retireKeyCommand(loadConfig(), opts.id)));

  program
    .command('demo')
    .description('sign a scripted agent in to a local demo site with username, password and TOTP (needs /usr/bin/chromium)')
    .option(
      '--keep',
      'then keep the server, the demo site and Chromium running, and print exports to try HTTP and MCP by hand; Ctrl-C stops',
    )
    .action(async (opts: { keep?: boolean }) => {
      const stopped = opts.keep
        ? new Promise((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          })
        : undefined;
      const bin = `node ${process.argv[1] ?? 'bin/sesame.js'}`;
      const result = await (await import('./cli/demo.js')).demoCommand(loadConfig(), say, { keepUntil: stopped, bin });
      printJson(result);
      if (!result.signed_in) process.exitCode = 1;
    });

  program
    .command('mcp')
    .description(
      'MCP over stdio, for clients that launch a command: forwards tool calls to a running Sesame with the grant in SESAME_GRANT',
    )
    .requiredOption('--url <url>', "the running Sesame's base URL, e.g. http://127.0.0.1:8080")
    .action(async (opts: { url: string }) => {
      // No loadConfig(): this command opens no database and needs no key, only the grant.
      await (await import('./cli/mcp.js')).mcpCommand(loadMcpClientConfig(), opts.url);
      process.exit(0);
    });

  const fixture = program.command('fixture').description('the 1Password fixture backend (tests and demos only)');
  fixture
    .command('mint-token')
    .description('print a structurally valid fake service account token (it works only against a fixture file)')
    .option('--seed <text>', 'derive the token from this text (same seed, same token)')
    .action(async (opts: { seed?: string }) => printJson((await import('./cli/fixture.js')).mintTokenCommand(opts.seed)));

  await program.parseAsync(argv);
}
