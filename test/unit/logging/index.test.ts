import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets, registerSecret } from '../../../lib/logging/index.js';

/** The registry is per process, so every test registers values no other test uses. */
function uniqueSecret(prefix = 'sec'): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

function capture(level?: 'debug' | 'info' | 'warn' | 'error', base?: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = createLogger({ level, base, sink: (line) => lines.push(line) });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with level, time, message and fields', () => {
    // Prepare
    const { logger, lines, records } = capture();

    // Act
    logger.info('typing sent', { portal: 'example.bitrix24.com', dialogId: 'chat12', upstreamStatus: 200 });

    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const [record] = records();
    expect(record).toMatchObject({
      level: 'info',
      message: 'typing sent',
      portal: 'example.bitrix24.com',
      dialogId: 'chat12',
      upstreamStatus: 200,
    });
    expect(new Date(record!.time as string).toISOString()).toBe(record!.time);
  });

  it('writes to stdout by default', () => {
    // Prepare
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      writes.push(chunk);
      return true;
    }) as typeof process.stdout.write;

    // Act
    try {
      createLogger().info('to stdout');
    } finally {
      process.stdout.write = original;
    }

    // Assess
    expect(writes).toHaveLength(1);
    expect(writes[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(writes[0]!)).toMatchObject({ message: 'to stdout' });
  });

  it('logs at info and above by default', () => {
    // Prepare
    const { logger, records } = capture();

    // Act
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');

    // Assess
    expect(records().map((r) => r.level)).toEqual(['info', 'warn', 'error']);
  });

  it.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ] as const)('at level %s writes only %j', (level, expected) => {
    // Prepare
    const { logger, records } = capture(level);

    // Act
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');

    // Assess
    expect(records().map((r) => r.level)).toEqual(expected);
  });

  it('adds the base fields and a child logger’s fields to every line', () => {
    // Prepare
    const { logger, records } = capture('info', { service: 'bitrix24-typing' });
    const child = logger.child({ requestId: 'req-1' });
    const grandchild = child.child({ portal: 'example.bitrix24.com' });

    // Act
    child.info('from child');
    grandchild.warn('from grandchild', { outcome: 'ok' });
    logger.info('from parent');

    // Assess
    const [fromChild, fromGrandchild, fromParent] = records();
    expect(fromChild).toMatchObject({ service: 'bitrix24-typing', requestId: 'req-1' });
    expect(fromGrandchild).toMatchObject({
      service: 'bitrix24-typing',
      requestId: 'req-1',
      portal: 'example.bitrix24.com',
      outcome: 'ok',
    });
    expect(fromParent).not.toHaveProperty('requestId');
  });

  it('keeps the parent’s level in a child logger', () => {
    // Prepare
    const { logger, records } = capture('warn');

    // Act
    logger.child({ requestId: 'req-2' }).info('hidden');
    logger.child({ requestId: 'req-2' }).error('shown');

    // Assess
    expect(records().map((r) => r.message)).toEqual(['shown']);
  });

  it('describes an error with its name, message, code and cause', () => {
    // Prepare
    const { logger, records } = capture();
    const cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const error = new TypeError('fetch failed', { cause });

    // Act
    logger.error('portal call failed', { error });

    // Assess
    expect(records()[0]!.error).toEqual({
      name: 'TypeError',
      message: 'fetch failed',
      cause: { name: 'Error', message: 'socket hang up', code: 'ECONNRESET' },
    });
  });

  it('logs a thrown non-Error as text', () => {
    // Prepare
    const { logger, records } = capture();

    // Act
    logger.error('odd failure', { error: 'boom' });

    // Assess
    expect(records()[0]!.error).toBe('boom');
  });
});

describe('secret redaction', () => {
  it('replaces a registered secret in the message and in fields', () => {
    // Prepare
    const secret = uniqueSecret('token');
    registerSecret(secret);
    const { logger, lines, records } = capture();

    // Act
    logger.info(`using ${secret}`, { auth: secret, nested: { deeper: [`Bearer ${secret}`] } });

    // Assess
    expect(lines[0]).not.toContain(secret);
    expect(records()[0]).toMatchObject({
      message: 'using [redacted]',
      auth: '[redacted]',
      nested: { deeper: ['Bearer [redacted]'] },
    });
  });

  it('replaces a registered secret inside an error message and its cause', () => {
    // Prepare
    const url = `https://example.bitrix24.com/rest/1/${uniqueSecret('code')}/`;
    registerSecret(url);
    const refresh = uniqueSecret('refresh');
    registerSecret(refresh);
    const { logger, lines } = capture();
    const error = new Error(`request to ${url} failed`, { cause: new Error(`refresh_token=${refresh} rejected`) });

    // Act
    logger.error('portal call failed', { error });

    // Assess
    expect(lines[0]).not.toContain(url);
    expect(lines[0]).not.toContain(refresh);
    expect(lines[0]).toContain('request to [redacted] failed');
    expect(lines[0]).toContain('refresh_token=[redacted] rejected');
  });

  it('replaces every occurrence of a secret, and each of several secrets', () => {
    // Prepare
    const a = uniqueSecret('a');
    const b = uniqueSecret('b');
    registerSecret(a);
    registerSecret(b);
    const { logger, lines } = capture();

    // Act
    logger.warn(`${a} ${b} ${a}${a}`);

    // Assess
    expect(lines[0]).not.toContain(a);
    expect(lines[0]).not.toContain(b);
    expect(JSON.parse(lines[0]!).message).toBe('[redacted] [redacted] [redacted][redacted]');
  });

  it('redacts secrets in child loggers’ base fields', () => {
    // Prepare
    const secret = uniqueSecret('base');
    registerSecret(secret);
    const { logger, lines } = capture();

    // Act
    logger.child({ leaked: secret }).info('hello');

    // Assess
    expect(lines[0]).not.toContain(secret);
  });

  it('redacts a registered secret containing a quote or backslash, which JSON escapes in the line', () => {
    // Prepare
    const secret = `pa"ss\\${uniqueSecret('q')}`;
    registerSecret(secret);
    const { logger, lines } = capture();

    // Act
    logger.info('login', { clientSecret: secret });

    // Assess
    expect(JSON.parse(lines[0]!).clientSecret).toBe('[redacted]');
  });

  it('does not register values shorter than 8 characters, so ordinary words survive', () => {
    // Prepare
    registerSecret('1234567');
    registerSecret('true');
    registerSecret('');
    registerSecret(undefined);
    const { logger, lines } = capture();

    // Act
    logger.info('bot 1234567 answered true', { botId: 1234567, ok: true });

    // Assess
    expect(JSON.parse(lines[0]!)).toMatchObject({ message: 'bot 1234567 answered true', botId: 1234567, ok: true });
  });

  it('registers a value of exactly 8 characters', () => {
    // Prepare
    const secret = randomBytes(4).toString('hex');
    registerSecret(secret);

    // Act
    const text = redactSecrets(`x${secret}x`);

    // Assess
    expect(text).toBe('x[redacted]x');
  });

  it('leaves text without secrets unchanged', () => {
    // Act / Assess
    expect(redactSecrets('nothing to hide here')).toBe('nothing to hide here');
  });
});
