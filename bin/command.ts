import type { Credentials } from '../lib/portal/index.js';
import type { SecretStore } from '../lib/secrets/secret-store.js';
import type { CommandOutput } from './outcome.js';
import type { Io, Palette } from './terminal.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in help: `--url <url>`. */
  value?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export interface SecretsContext {
  /** `secrets-manager` or `file:<absolute path>`, as shown to the operator. */
  source: string;
  /** Secrets Manager's region; undefined for a file source. */
  region: string | undefined;
  /** What the operator should know about how the source was chosen (stderr). */
  notes: string[];
  prefix: string;
  store: SecretStore;
  credentials: Credentials;
  names: Credentials['names'];
  /** The OAuth server token refreshes go to (`$OAUTH_SERVER`, else Bitrix24's), never a stored endpoint. */
  oauthServer: string;
  /** Domains with a secret under `<prefix>/portals/`. */
  listPortals(): Promise<string[]>;
}

export interface CommandContext {
  io: Io;
  values: OptionValues;
  positionals: string[];
  /** Colours for stdout (off unless stdout is a terminal and NO_COLOR is unset). */
  out: Palette;
  progress<T>(label: string, work: () => Promise<T>): Promise<T>;
  /** The credentials source chosen by --source/--prefix/--stage and the environment. */
  secrets(): SecretsContext;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional arguments in the usage line, e.g. `<fixture>`; their count is enforced. */
  args?: string[];
  description: string[];
  options: Record<string, OptionSpec>;
  /** Takes --source, --prefix and --stage. */
  usesSecrets: boolean;
  examples?: string[];
  run(ctx: CommandContext): Promise<CommandOutput>;
}

export interface CommandGroup {
  name: string;
  summary: string;
  commands: CommandSpec[];
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}
