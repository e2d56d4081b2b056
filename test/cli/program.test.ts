import { describe, expect, it } from 'vitest';
import { GROUPS } from '../../bin/program.js';
import { cli } from '../support/cli.js';
import { startScriptedServer } from '../support/scripted-server.js';

const ANSI_COLOUR = new RegExp(String.raw`\u001b\[\d+(?:;\d+)*m`);
const everyCommand = GROUPS.flatMap((group) => group.commands.map((command) => [group.name, command.name] as const));

describe('help', () => {
  it('lists every command on --help and exits 0', async () => {
    // Act
    const result = await cli(['--help']);

    // Assess
    expect(result.code).toBe(0);
    for (const [group, command] of everyCommand) expect(result.stdout).toContain(`${group} ${command}`);
    expect(result.stdout).toContain('Exit codes: 0 ok, 1 the operation failed, 2 usage error, 3 not found');
  });

  it('prints the help on stderr and exits 2 when no command is given', async () => {
    // Act
    const result = await cli([]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Usage: bitrix24-typing <command>');
  });

  it.each(everyCommand)('has --help for "%s %s"', async (group, command) => {
    // Act
    const result = await cli([group, command, '--help']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: bitrix24-typing ${group} ${command}`));
    expect(result.stdout).toContain('--json');
    expect(result.stdout).toContain('Exit codes:');
  });

  it('lists a group\'s commands on "<group> --help"', async () => {
    // Act
    const result = await cli(['portal', '--help']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/add\s+store a portal's credentials/);
    expect(result.stdout).toMatch(/check\s+prove/);
  });

  it('prints the version', async () => {
    // Act
    const result = await cli(['--version']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('usage errors', () => {
  it('exits 2 on an unknown command', async () => {
    // Act
    const group = await cli(['deploy']);
    const command = await cli(['keys', 'delete']);

    // Assess
    expect([group.code, command.code]).toEqual([2, 2]);
    expect(group.stderr).toContain('unknown command "deploy"');
    expect(command.stderr).toContain('unknown command "keys delete"');
  });

  it('exits 2 on an unknown option, with a stable JSON shape under --json', async () => {
    // Act
    const human = await cli(['keys', 'generate', '--bogus']);
    const json = await cli(['keys', 'generate', '--bogus', '--json']);

    // Assess
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/^error: Unknown option '--bogus'/);
    expect(human.stderr).toContain('Run "bitrix24-typing keys generate --help" for usage.');
    expect(json.code).toBe(2);
    expect(json.json()).toEqual({ ok: false, error: { code: 'USAGE', message: expect.stringContaining('--bogus') } });
  });

  it('exits 2 on a stray argument or a bad --source', async () => {
    // Act
    const stray = await cli(['keys', 'generate', 'extra']);
    const source = await cli(['portal', 'list', '--source', 'dynamodb']);

    // Assess
    expect([stray.code, source.code]).toEqual([2, 2]);
    expect(source.stderr).toContain('--source: expected "secrets-manager" or "file:<path>"');
  });
});

describe('terminal behaviour', () => {
  it('colours only on a terminal and never with NO_COLOR', async () => {
    // Act
    const piped = await cli(['deploy']);
    const terminal = await cli(['deploy'], { tty: { stderr: true } });
    const noColour = await cli(['deploy'], { tty: { stderr: true }, env: { NO_COLOR: '1' } });

    // Assess
    expect(piped.stderr).not.toMatch(ANSI_COLOUR);
    expect(terminal.stderr).toMatch(ANSI_COLOUR);
    expect(noColour.stderr).not.toMatch(ANSI_COLOUR);
  });

  it('shows a spinner on a terminal for work slower than a second, and clears it', async () => {
    // Prepare
    const server = await startScriptedServer({ status: 200, body: { ok: true }, delayMs: 1_400 });

    try {
      // Act
      const terminal = await cli(['events', 'send', 'join-chat-webhook-bot', '--url', server.url], {
        tty: { stderr: true },
      });
      const piped = await cli(['events', 'send', 'join-chat-webhook-bot', '--url', server.url]);

      // Assess
      expect(terminal.code).toBe(0);
      expect(terminal.stderr).toMatch(/⠋.*Posting ONIMBOTJOINCHAT/);
      expect(terminal.stderr.endsWith('\r\u001b[2K')).toBe(true);
      expect(piped.code).toBe(0);
      expect(piped.stderr).toBe('');
    } finally {
      await server.close();
    }
  });

  it('shows no spinner for work under a second', async () => {
    // Prepare
    const server = await startScriptedServer();

    try {
      // Act
      const terminal = await cli(['events', 'send', 'join-chat-webhook-bot', '--url', server.url], {
        tty: { stderr: true },
      });

      // Assess
      expect(terminal.code).toBe(0);
      expect(terminal.stderr).toBe('');
    } finally {
      await server.close();
    }
  });
});
