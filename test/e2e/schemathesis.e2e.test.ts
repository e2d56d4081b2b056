import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { random, webhookBotOn } from '../../devtools/fixtures.js';
import { startOffline, type OfflineService } from '../support/offline.js';
import { recordScenario } from '../support/report.js';
import { startSigningProxy } from '../../devtools/signing-proxy.js';

// Schemathesis drives both routes from api/openapi.yaml against the running service (serverless-offline),
// through a proxy that signs /typing requests. Every response must be documented, and none may be a 5xx.
let portal: FakePortal;
let service: OfflineService;
let proxy: Awaited<ReturnType<typeof startSigningProxy>>;
const venvBin = (name: string) => join(process.cwd(), '.venv', 'bin', name);

function runAsync(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

beforeAll(async () => {
  portal = await startPortal({ domain: 'example.bitrix24.com', burst: 1_000_000 });
  const key = generateSigningKey();
  const bot = webhookBotOn(portal, 39);
  // A v2 bot beside it (the document's other botId example), in one group chat only: notify calls, and the 409 a
  // chat it is not in gets, run through the contract too.
  const botToken = random(16);
  portal.addBotV2({ botId: 567, botToken, chats: ['chat12'] });
  const dir = mkdtempSync(join(tmpdir(), 'b24-schemathesis-'));
  const credentials = join(dir, 'credentials.json');
  writeFileSync(
    credentials,
    JSON.stringify({
      'st/test/typing-keys': { keys: [key] },
      'st/test/portals/example.bitrix24.com': { ...bot.secret, bots: { '567': { api: 'v2', botToken } } },
    }),
  );
  service = await startOffline({
    CREDENTIALS_SOURCE: `file:${credentials}`,
    SECRETS_PREFIX: 'st/test',
    LOG_LEVEL: 'warn',
  });
  proxy = await startSigningProxy(service.url, key);
});
afterAll(async () => {
  await proxy?.close();
  await service?.stop();
  await portal?.close();
});

describe('schemathesis against the running service', () => {
  it('lints the OpenAPI document', () => {
    const lint = spawnSync(venvBin('openapi-spec-validator'), ['api/openapi.yaml'], { encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toContain('OK');
    expect(lint.status).toBe(0);
  });

  it('finds no 5xx and no response that differs from the document', async () => {
    // Asynchronously: the proxy and the portal live in this process and must keep answering meanwhile.
    const run = await runAsync(
      venvBin('schemathesis'),
      [
        'run',
        'api/openapi.yaml',
        '--url',
        proxy.url,
        '--checks',
        'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance',
        '--max-examples',
        '60',
        '--phases',
        'examples,coverage,fuzzing',
        '--generation-deterministic',
        '--workers',
        '2',
        '--no-color',
      ],
      { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' },
    );
    const output = run.output;
    const cases = /(\d+) generated/.exec(output)?.[1];
    recordScenario({
      id: 'hostile/schemathesis',
      section: 'Hostile input',
      scenario: 'schemathesis (examples, coverage, fuzzing phases) from api/openapi.yaml against the running service',
      sent: `${cases ?? '?'} generated requests over both routes, /typing signed by a loopback proxy`,
      got: /=+ (.*) in [\d.]+s =+/.exec(output)?.[1] ?? `exit ${run.status}`,
      figures: {
        generatedCases: Number(cases ?? NaN),
        exitCode: run.status ?? -1,
        sandboxTypingCalls: portal.typingCalls().length,
        sandboxV2Calls: portal.calls.filter((call) => call.method === 'imbot.v2.Chat.InputAction.notify').length,
      },
      command: 'npm test -- test/e2e/schemathesis.e2e.test.ts',
      // A run that never got past signatures and validation tested little: it made no typing call.
      observations: portal.typingCalls().length,
    });
    expect(output, output.slice(-6000)).toMatch(/passed/);
    expect(run.status, output.slice(-6000)).toBe(0);
    // The sandbox portal saw real typing calls: the run got past signatures and validation.
    expect(portal.typingCalls().length).toBeGreaterThan(0);
  }, 300_000);
});
