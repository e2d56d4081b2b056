import { normalizeDomain } from '../lib/portal/index.js';
import { stringOption, type CommandContext } from './command.js';
import { usageError } from './outcome.js';

/** The portal a command is about, as the host name its secret is stored under. */
export function requireDomain(ctx: CommandContext, option = 'domain'): string {
  const raw = stringOption(ctx.values, option);
  if (raw === undefined) throw usageError(`--${option} is required`);
  const domain = normalizeDomain(raw);
  if (!domain) throw usageError(`--${option}: "${raw}" is not a host name such as example.bitrix24.com`);
  return domain;
}

export function positiveInteger(ctx: CommandContext, option: string): number | undefined {
  const raw = stringOption(ctx.values, option);
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(raw)) throw usageError(`--${option} must be a positive integer, got "${raw}"`);
  return Number(raw);
}
