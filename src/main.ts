// CLI entry: every command is a thin wrapper over an exported action in src/cli/.
import { Command } from 'commander';
import { parseBatchSize, retireKeyCommand, rewrapKeysCommand, rotateKeysCommand, verifyKeysCommand } from './cli/keys.js';
import { printJson, say } from './cli/runtime.js';
import { ENVIRONMENT, loadConfig, loadMcpClientConfig, SESAME_VERSION } from './config.js';

// `serve` and `demo` load their modules on demand: they pull in Fastify, Playwright and the providers,
// which would otherwise cost every short command (org, api-key, keys) a second of start-up.
const apiKeyCli = () => import('./cli/api-key.js');

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

/** Every command, with its description, options and action. */
export function buildProgram(): Command {
  const program = new Command('sesame')
    .description('Vault configs and secret fill for browser agents, backed by 1Password')
    .version(SESAME_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError();

  program
    .command('serve')
    .description('migrate the database if needed, then serve the API until SIGINT/SIGTERM')
    .addHelpText('after', environmentHelp('serve'))
    .action(async () => (await import('./cli/serve.js')).serveCommand(loadConfig()));

  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => printJson(await (await import('./cli/migrate.js')).migrateCommand(loadConfig())));

  const org = program.command('org').description('organizations: create, list');
  org
    .command('create')
    .description('create an organization: {"id", "name"}')
    .requiredOption('--name <name>', 'organization name')
    .action(async (opts: { name: string }) => printJson(await (await import('./cli/org.js')).createOrgCommand(loadConfig(), opts.name)));
  org
    .command('list')
    .description('list the organizations, oldest first: {"organizations": [{"id", "name", "created_at"}]}')
    .action(async () => printJson(await (await import('./cli/org.js')).listOrgsCommand(loadConfig())));

  const apiKey = program.command('api-key').description('API keys: create, list, revoke');
  apiKey
    .command('create')
    .description('issue an API key for an organization: {"id", "org_id", "key"}; the key is shown only here')
    .requiredOption('--org <org id>', 'organization id')
    .option('--name <label>', 'a label for the key')
    .action(async (opts: { org: string; name?: string }) =>
      printJson(await (await apiKeyCli()).createApiKeyCommand(loadConfig(), opts.org, opts.name)),
    );
  apiKey
    .command('list')
    .description("list an organization's API keys: ids, names, created, last used (to a minute), revoked; never a key")
    .requiredOption('--org <org id>', 'organization id')
    .action(async (opts: { org: string }) => printJson(await (await apiKeyCli()).listApiKeysCommand(loadConfig(), opts.org)));
  apiKey
    .command('revoke')
    .description('revoke an API key, at once on every instance: {"id", "revoked": true}')
    .requiredOption('--id <key id>', 'API key id')
    .action(async (opts: { id: string }) => printJson(await (await apiKeyCli()).revokeApiKeyCommand(loadConfig(), opts.id)));

  const keys = program.command('keys').description('master keys: rotate, rewrap, verify, retire (runbook: docs/security.md)');
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
    .addHelpText('after', environmentHelp('mcp'))
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

  return program;
}

/** `serve --help`, `mcp --help`: every environment variable of the command, its default and what it does (the README says more). */
function environmentHelp(command: 'serve' | 'mcp'): string {
  const variables = ENVIRONMENT.filter((v) => (v.command ?? 'serve') === command);
  const width = Math.max(...variables.map((v) => v.name.length));
  const lines = variables.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}${v.default === '—' ? '' : ` (default: ${v.default})`}`);
  return [
    '',
    'Environment variables (read once at start; a bad value stops start-up):',
    ...lines,
    '',
    'Details: README.md, Configuration.',
  ].join('\n');
}
