import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, type BuiltCli } from '../support/built-cli.js';
import { startScriptedServer } from '../support/scripted-server.js';

// `events send` as an operator runs it: the built CLI, its built-in fixtures and its help.

let cli: BuiltCli;
beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());

describe('events send', () => {
  it('exits 1 when a 2xx answer is not the service\'s {"ok": true}, as for a function that failed to load', async () => {
    // Prepare: serverless-offline's answer when the bundle is gone
    const server = await startScriptedServer({
      status: 200,
      body: {
        errorMessage: "Error: Cannot find module '.esbuild/.build/functions/bot-events.mjs'",
        errorType: 'Error',
        stackTrace: ['Runtime.ImportModuleError: Error: Cannot find module'],
      },
    });

    try {
      // Act
      const result = await cli.run(['events', 'send', 'message-webhook-bot', '--url', server.url]);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.notes).toContain(
        `error: POST ${server.url}/bitrix/events answered 200, but not with the service's {"ok": true}:\n{\n  "errorMessage"`,
      );
    } finally {
      await server.close();
    }
  });
});

describe('the built-in fixtures', () => {
  it('cover every event the service handles', async () => {
    // Prepare
    const files = (await readdir('bin/fixtures')).filter((name) => name.endsWith('.txt')).sort();

    // Act
    const events = await Promise.all(
      files.map(async (name) => /^event=(.+)$/m.exec(await readFile(`bin/fixtures/${name}`, 'utf8'))?.[1]),
    );

    // Assess
    expect(Object.fromEntries(files.map((name, i) => [name, events[i]]))).toEqual({
      'command-webhook-bot.txt': 'ONIMCOMMANDADD',
      'delete-webhook-bot.txt': 'ONIMBOTDELETE',
      'install-oauth-app.txt': 'ONAPPINSTALL',
      'join-chat-webhook-bot.txt': 'ONIMBOTJOINCHAT',
      'message-webhook-bot.txt': 'ONIMBOTMESSAGEADD',
      'update-oauth-app.txt': 'ONAPPUPDATE',
    });
  });

  it('are all named in the help, whose examples send fixtures that exist', async () => {
    // Act
    const help = await cli.run(['events', 'send', '--help']);

    // Assess
    expect(help.code).toBe(0);
    const names = (await readdir('bin/fixtures')).map((name) => name.replace(/\.txt$/, ''));
    for (const name of names) expect(help.stdout).toContain(name);
    const examples = [...help.stdout.matchAll(/^ {2}bitrix24-typing events send (\S+)/gm)].map((m) => m[1] as string);
    expect(examples.length).toBeGreaterThan(0);
    for (const fixture of examples) expect(existsSync(fixture) || names.includes(fixture), fixture).toBe(true);
  });
});
