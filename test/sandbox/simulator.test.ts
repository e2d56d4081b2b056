import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seedCredentials, startSimulator, type Simulator } from '../../sandbox/simulator.js';
import { freePort } from '../../devtools/net.js';

const EXAMPLE = join(process.cwd(), 'sandbox', 'credentials.example.json');
const PORTAL = 'bitrix24-typing/dev/portals/sandbox.bitrix24.test';

interface SandboxPortal {
  botId: number;
  bots: Record<string, { api: string; botToken: string; type: string }>;
  webhook: { url: string; clientId: string; eventsToken: string };
}

let running: Simulator | undefined;
afterEach(async () => {
  await running?.portal.close();
  running = undefined;
});

async function seeded() {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-'));
  const path = join(dir, 'credentials.json');
  const port = await freePort();
  seedCredentials(EXAMPLE, path, port);
  return { path, port };
}

const portalOf = async (path: string) =>
  (JSON.parse(await readFile(path, 'utf8')) as Record<string, SandboxPortal>)[PORTAL] as SandboxPortal;

describe('the sandbox', () => {
  it('seeds a v2 bot 567 beside bot 39, with a fresh botToken and events token', async () => {
    // Act
    const { path } = await seeded();

    // Assess
    const portal = await portalOf(path);
    expect(portal.botId).toBe(39);
    expect(portal.bots['567']).toEqual({ api: 'v2', botToken: expect.stringMatching(/^[0-9a-f]{32}$/), type: 'bot' });
    expect(portal.webhook.eventsToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives a sandbox seeded before v2 bots its v2 bot, keeping everything else', async () => {
    // Prepare: a credentials file as earlier versions wrote it
    const { path, port } = await seeded();
    const all = JSON.parse(await readFile(path, 'utf8')) as Record<string, Record<string, unknown>>;
    const old = all[PORTAL] as Record<string, unknown> & SandboxPortal;
    delete (old as Partial<SandboxPortal>).bots;
    delete (old.webhook as Partial<SandboxPortal['webhook']>).eventsToken;
    await writeFile(path, JSON.stringify(all));

    // Act
    seedCredentials(EXAMPLE, path, port);

    // Assess
    const portal = await portalOf(path);
    expect(portal.bots['567']?.api).toBe('v2');
    expect(portal.webhook).toMatchObject({ url: old.webhook.url, clientId: old.webhook.clientId });
    expect(portal.webhook.eventsToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it('serves the v2 bot by its stored token and prints its indicator with status and duration', async () => {
    // Prepare
    const { path, port } = await seeded();
    const lines: string[] = [];
    running = await startSimulator({ credentialsPath: path, port, print: (line) => lines.push(line) });
    const portal = await portalOf(path);

    // Act
    const answer = await fetch(`${portal.webhook.url}imbot.v2.Chat.InputAction.notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        botId: 567,
        botToken: portal.bots['567']?.botToken,
        dialogId: 'chat1',
        statusMessageCode: 'IMBOT_AGENT_ACTION_THINKING',
        duration: 60,
      }),
    });
    const plain = await fetch(`${portal.webhook.url}imbot.v2.Chat.InputAction.notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ botId: 567, botToken: portal.bots['567']?.botToken, dialogId: '27' }),
    });

    // Assess
    expect([answer.status, plain.status]).toEqual([200, 200]);
    expect(lines).toEqual(['bot 567 is thinking in chat1 for 60 s', 'bot 567 is typing in 27']);
  });
});
