import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../devtools/net.js';
import { buildCli, type BuiltCli } from '../support/built-cli.js';
import { copyProject, type ProjectCopy } from '../support/project-copy.js';
import { BUILTIN_FIXTURES } from '../../bin/commands/events.js';

// `npm start` as an operator runs it, twice, in a copy of the project (so the sandbox's .local/ and the packaging
// folders are this suite's own), with the built CLI talking to it.

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function npmStart(cwd: string, env: Record<string, string>): Started {
  let output = '';
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function stop(started: Started | undefined): Promise<unknown> {
  if (!started || started.child.exitCode !== null) return Promise.resolve();
  // The whole process group: npx, osls and its worker threads.
  process.kill(-started.child.pid!, 'SIGTERM');
  return started.exited;
}

function run(
  cwd: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

const KMS_KEY = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
let project: ProjectCopy;
let cli: BuiltCli;
let first: Started;
let ports: { PORT: string; LAMBDA_PORT: string; SIMULATOR_PORT: string };
let url: string;

beforeAll(async () => {
  [project, cli] = await Promise.all([copyProject(), buildCli()]);
  ports = {
    PORT: String(await freePort()),
    LAMBDA_PORT: String(await freePort()),
    SIMULATOR_PORT: String(await freePort()),
  };
  url = `http://localhost:${ports.PORT}`;
  first = npmStart(project.root, ports);
  await waitFor(async () => first.output().includes('Next, in a second terminal'), 120_000, 'the first npm start');
}, 180_000);
afterAll(async () => {
  await stop(first);
  await Promise.all([project?.remove(), cli?.remove()]);
});

describe('a second npm start', () => {
  it('refuses busy ports in one line and leaves the running sandbox and its credentials file alone', async () => {
    // Prepare
    const credentials = join(project.root, '.local', 'credentials.json');
    const before = await readFile(credentials, 'utf8');

    // Act
    const second = npmStart(project.root, { ...ports, SIMULATOR_PORT: String(await freePort()) });
    const code = await second.exited;
    const typing = await cli.run(
      ['typing', 'send', '--portal', 'sandbox.bitrix24.test', '--dialog', 'chat1', '--url', url],
      {
        cwd: project.root,
      },
    );

    // Assess
    expect(code).toBe(1);
    const lines = second
      .output()
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('warning: bitrix24-typing requires Node.js'));
    expect(lines).toEqual([
      `npm start: ports ${ports.PORT} (PORT) and ${ports.LAMBDA_PORT} (LAMBDA_PORT) are already in use, most likely ` +
        'by another npm start; stop it, or pick free ports, e.g. PORT=3100 LAMBDA_PORT=3102 SIMULATOR_PORT=3110 ' +
        'npm start. Nothing was started or changed.',
    ]);
    expect(await readFile(credentials, 'utf8')).toBe(before);
    expect(typing.code).toBe(0);
    await waitFor(async () => first.output().includes('bot 39 is typing in chat1'), 5_000, 'the portal call');
  }, 60_000);
});

describe('npm run package beside a running npm start', () => {
  let packageDir: string;
  let packaged: { code: number | null; output: string };
  beforeAll(async () => {
    packageDir = await mkdtemp(join(tmpdir(), 'b24-package-'));
    // A shell left pointing at the sandbox file and an emulator's table, as an operator's might be, and a
    // customer-managed key for secrets.
    packaged = await run(project.root, 'npm', ['run', 'package', '--', '--package', packageDir], {
      CREDENTIALS_SOURCE: 'file:.local/credentials.json',
      STATE_TABLE: 'table-on-my-emulator',
      SECRETS_KMS_KEY_ID: KMS_KEY,
    });
  }, 120_000);

  it('ships a template whose functions read Secrets Manager, whatever CREDENTIALS_SOURCE the shell held', async () => {
    // Act
    const template = JSON.parse(
      await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as {
      Resources: Record<string, { Type: string; Properties: { Environment?: { Variables: Record<string, unknown> } } }>;
    };

    // Assess
    expect(packaged.code).toBe(0);
    const sources = Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .map((fn) => fn.Properties.Environment?.Variables.CREDENTIALS_SOURCE);
    expect(sources).toEqual(['secrets-manager', 'secrets-manager']);
  });

  it('ships a template whose functions use the stack’s own state table, whatever STATE_TABLE the shell held', async () => {
    // Act
    const template = JSON.parse(
      await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as {
      Resources: Record<string, { Type: string; Properties: { Environment?: { Variables: Record<string, unknown> } } }>;
    };

    // Assess
    const tables = Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .map((fn) => fn.Properties.Environment?.Variables.STATE_TABLE);
    expect(tables).toEqual([{ Ref: 'StateTable' }, { Ref: 'StateTable' }]);
  });

  it('lets both functions use the customer-managed KMS key named at deploy, through Secrets Manager only', async () => {
    // Act
    const template = JSON.parse(
      await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as { Resources: Record<string, { Properties: Record<string, unknown> }>; Conditions: Record<string, unknown> };

    // Assess
    const kmsStatements = ['TypingFunctionRole', 'BotEventsFunctionRole'].map((role) =>
      JSON.stringify(template.Resources[role]?.Properties.Policies).includes(
        JSON.stringify({
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: { 'Fn::Join': ['', [KMS_KEY]] },
          Condition: {
            StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' } },
          },
        }),
      ),
    );
    expect(kmsStatements).toEqual([true, true]);
    expect(template.Conditions.SecretsKmsKey).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [KMS_KEY, ''] }] });
    const environments = ['TypingLambdaFunction', 'BotEventsLambdaFunction'].map(
      (fn) => (template.Resources[fn]?.Properties.Environment as { Variables: Record<string, string> }).Variables,
    );
    expect(environments.map((env) => env.SECRETS_KMS_KEY_ID)).toEqual([KMS_KEY, KMS_KEY]);
  });

  it('leaves the running sandbox serving every built-in fixture', async () => {
    // Prepare
    const fixtures = BUILTIN_FIXTURES;

    // Act: at once, so that new emulated containers load the functions after the packaging
    const sent = await Promise.all(
      fixtures.map((fixture) =>
        cli.run(
          ['events', 'send', fixture, '--url', url, '--domain', 'sandbox.bitrix24.test', '--stored-token', '--json'],
          { cwd: project.root },
        ),
      ),
    );

    // Assess
    expect(packaged.code).toBe(0);
    expect(sent.map((result) => [result.code, result.json().body])).toEqual(fixtures.map(() => [0, { ok: true }]));
    await waitFor(
      async () =>
        ['bot 39 is typing in 27', 'bot 39 is typing in chat1157'].every((line) => first.output().includes(line)),
      5_000,
      'the portal calls of the message, command and join',
    );
  }, 120_000);
});

describe('the sandbox’s chat-bot API v2 bot', () => {
  it('shows an agent status for the asked duration, and the simulator prints it', async () => {
    // Act
    const typing = await cli.run(
      ['typing', 'send', '--portal', 'sandbox.bitrix24.test', '--dialog', 'chat1', '--bot', '567'].concat([
        '--duration',
        '60',
        '--status',
        'thinking',
        '--url',
        url,
      ]),
      { cwd: project.root },
    );

    // Assess
    expect(typing.code).toBe(0);
    expect(typing.stdout).toContain(
      '✓ bot 567 is thinking in chat1 on sandbox.bitrix24.test (the indicator shows for about 60 s)',
    );
    await waitFor(
      async () => first.output().includes('[portal] bot 567 is thinking in chat1 for 60 s'),
      5_000,
      'the notify call',
    );
  }, 60_000);
});
