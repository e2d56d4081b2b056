/** The CLI's exit codes; scripts may rely on them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A command's failure: its exit code, a stable machine-readable `code` (in `--json` output as `error.code`),
 * a message for people, and fields that `--json` output carries beside the error.
 */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    readonly exitCode: ExitCode,
    readonly code: string,
    message: string,
    readonly fields: Record<string, unknown> = {},
    readonly errorFields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, 'USAGE', message);
export const notFound = (code: string, message: string, fields: Record<string, unknown> = {}) =>
  new CliError(EXIT.notFound, code, message, fields);
export const failed = (
  code: string,
  message: string,
  fields: Record<string, unknown> = {},
  errorFields: Record<string, unknown> = {},
) => new CliError(EXIT.failed, code, message, fields, errorFields);

/** What a successful command hands back: the `--json` fields and the human lines. */
export interface CommandOutput {
  json: Record<string, unknown>;
  /** Lines for stdout: the result itself, so `$(...)` captures just that. */
  human: string[];
  /** Lines for stderr: guidance around the result. */
  notes?: string[];
}
