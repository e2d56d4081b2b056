import { parseArgs } from 'node:util';
import packageJson from '../package.json' with { type: 'json' };
import { CredentialsFormatError } from '../lib/portal/index.js';
import { SecretStoreError } from '../lib/secrets/secret-store.js';
import { ServiceError } from '../lib/errors/index.js';
import { redactSecrets } from '../lib/logging/index.js';
import type { CommandGroup, CommandSpec, OptionSpec, OptionValues, SecretsContext } from './command.js';
import { botGroup } from './commands/bot.js';
import { eventsGroup } from './commands/events.js';
import { keysGroup } from './commands/keys.js';
import { portalGroup } from './commands/portal/index.js';
import { typingGroup } from './commands/typing.js';
import { CliError, EXIT, failed, usageError, type CommandOutput } from './outcome.js';
import { openSecrets, SECRETS_OPTIONS, SERVICE_REGION } from './secrets.js';
import { paletteFor, processIo, withProgress, type Io } from './terminal.js';

export const PROGRAM = 'bitrix24-typing';
export const GROUPS: CommandGroup[] = [keysGroup, portalGroup, botGroup, typingGroup, eventsGroup];

const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print one JSON object on stdout (stable shape, for scripts)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const EXIT_CODES = 'Exit codes: 0 ok, 1 the operation failed, 2 usage error, 3 not found (portal, keys, fixture).';

function optionsOf(command: CommandSpec): Record<string, OptionSpec> {
  return { ...command.options, ...(command.usesSecrets ? SECRETS_OPTIONS : {}), ...COMMON_OPTIONS };
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const labels = Object.entries(options).map(([name, spec]) => {
    const long = `--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [spec.short ? `-${spec.short}, ${long}` : `    ${long}`, spec.description] as const;
  });
  const width = Math.max(...labels.map(([label]) => label.length)) + 2;
  return labels.map(([label, description]) => `  ${label.padEnd(width)}${description}`);
}

export function commandHelp(group: CommandGroup, command: CommandSpec): string {
  const args = command.args ? ` ${command.args.join(' ')}` : '';
  return [
    `Usage: ${PROGRAM} ${group.name} ${command.name}${args} [options]`,
    '',
    `${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.`,
    '',
    ...command.description,
    '',
    'Options:',
    ...optionLines(optionsOf(command)),
    ...(command.examples?.length ? ['', 'Examples:', ...command.examples.map((example) => `  ${example}`)] : []),
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

function groupHelp(group: CommandGroup): string {
  const width = Math.max(...group.commands.map((c) => c.name.length)) + 2;
  return [
    `Usage: ${PROGRAM} ${group.name} <command> [options]`,
    '',
    `Commands (${group.summary}):`,
    ...group.commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run "${PROGRAM} ${group.name} <command> --help" for a command's options.`,
    '',
  ].join('\n');
}

export function programHelp(): string {
  const rows = GROUPS.flatMap((g) => g.commands.map((c) => [`${g.name} ${c.name}`, c.summary] as const));
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Operate the bitrix24-typing service: signing keys, portal credentials, the bot, and test requests.',
    '',
    'Commands:',
    ...rows.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`),
    '',
    'Every command takes --help and --json. Commands that touch credentials take --source, --prefix, --stage and',
    `--region: with --stage they use Secrets Manager (region ${SERVICE_REGION} unless --region), without it the sandbox`,
    'file .local/credentials.json at the project root; --source or CREDENTIALS_SOURCE choose explicitly.',
    'Colour only on a terminal, never with NO_COLOR set.',
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

function messageOf(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    if (!parts.some((part) => part.includes(current.message))) parts.push(current.message);
  }
  return redactSecrets(parts.join(': ') || String(error));
}

/** Failures from lib, turned into the CLI's own: the operator gets the reason, never a stack. */
function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ServiceError) return failed(error.code, messageOf(error));
  if (error instanceof SecretStoreError) return failed('CREDENTIALS_UNAVAILABLE', messageOf(error));
  if (error instanceof CredentialsFormatError) return failed('SECRET_MALFORMED', error.message);
  return failed('INTERNAL_ERROR', messageOf(error));
}

function parseCommand(command: CommandSpec, args: string[]): { values: OptionValues; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(optionsOf(command)).map(([name, spec]) => [
      name,
      spec.short ? { type: spec.type, short: spec.short } : { type: spec.type },
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(
      (error as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, ''),
    );
  }
  const expected = command.args?.length ?? 0;
  if (parsed.positionals.length !== expected) {
    throw usageError(
      expected === 0
        ? `unexpected argument "${parsed.positionals[0]}"`
        : `expected ${command.args?.join(' ')}, got ${parsed.positionals.length} argument(s)`,
    );
  }
  return { values: parsed.values as OptionValues, positionals: parsed.positionals };
}

function write(io: Io, stream: 'stdout' | 'stderr', lines: string[]): void {
  if (lines.length > 0) io[stream].write(`${lines.join('\n')}\n`);
}

/** Runs one command line; resolves with the exit code. Never throws, never calls process.exit. */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const json = argv.includes('--json');
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const err = paletteFor(io.stderr, io.env);

  const fail = (error: CliError, help?: string): number => {
    if (json) {
      const body = {
        ok: false,
        ...error.fields,
        error: { code: error.code, message: error.message, ...error.errorFields },
      };
      write(io, 'stdout', [JSON.stringify(body)]);
    } else {
      write(io, 'stderr', [`${err.paint(['bold', 'red'], 'error:')} ${error.message}`]);
      if (help) write(io, 'stderr', [help]);
    }
    return error.exitCode;
  };

  const [groupName, commandName, ...rest] = argv;
  if (
    groupName === undefined ||
    groupName === 'help' ||
    ((groupName === '--help' || groupName === '-h') && argv.length === 1)
  ) {
    write(io, groupName === undefined ? 'stderr' : 'stdout', [programHelp()]);
    return groupName === undefined ? EXIT.usage : EXIT.ok;
  }
  if (groupName === '--version' || groupName === '-v') {
    write(io, 'stdout', [json ? JSON.stringify({ ok: true, version: packageJson.version }) : packageJson.version]);
    return EXIT.ok;
  }
  const group = GROUPS.find((g) => g.name === groupName);
  if (!group) return fail(usageError(`unknown command "${groupName}"; run "${PROGRAM} --help"`));
  if (commandName === undefined || commandName === '--help' || commandName === '-h') {
    write(io, commandName === undefined ? 'stderr' : 'stdout', [groupHelp(group)]);
    return commandName === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = group.commands.find((c) => c.name === commandName);
  if (!command) return fail(usageError(`unknown command "${group.name} ${commandName}"`), groupHelp(group));
  if (wantsHelp) {
    write(io, 'stdout', [commandHelp(group, command)]);
    return EXIT.ok;
  }

  let secrets: SecretsContext | undefined;
  try {
    const { values, positionals } = parseCommand(command, rest);
    const output: CommandOutput = await command.run({
      io,
      values,
      positionals,
      out: paletteFor(io.stdout, io.env),
      progress: (label, work) => withProgress(io, label, work),
      secrets: () => (secrets ??= openSecrets(values, io)),
    });
    if (json) {
      write(io, 'stdout', [JSON.stringify({ ok: true, ...output.json })]);
    } else {
      write(io, 'stdout', output.human);
      write(io, 'stderr', [...(secrets?.notes ?? []), ...(output.notes ?? [])]);
    }
    return EXIT.ok;
  } catch (error) {
    const cliError = asCliError(error);
    return fail(
      cliError,
      cliError.exitCode === EXIT.usage ? `Run "${PROGRAM} ${group.name} ${command.name} --help" for usage.` : undefined,
    );
  }
}
