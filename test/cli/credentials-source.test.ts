import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, type BuiltCli } from '../support/built-cli.js';
import { uniquePrefix } from '../support/secrets.js';

// Where the CLI reads and writes credentials when the operator does not say: the region, the stage and the
// working directory. Driven through the built CLI, as an operator runs it.

let cli: BuiltCli;
beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());

/** The secret's keys in one region of the emulator, or the error's name when it is not there. */
async function keysIn(region: string, name: string): Promise<unknown> {
  try {
    const out = await new SecretsManagerClient({ region }).send(new GetSecretValueCommand({ SecretId: name }));
    return (JSON.parse(out.SecretString ?? '{}') as { keys: unknown }).keys;
  } catch (error) {
    return (error as Error).name;
  }
}

describe('the region of Secrets Manager', () => {
  it("is the service's, eu-central-1, without --region, whatever region the shell holds", async () => {
    // Prepare
    const prefix = uniquePrefix();

    // Act
    const unset = await cli.run(['keys', 'rotate', '--source', 'secrets-manager', '--prefix', prefix, '--json'], {
      env: { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
    });
    const elsewhere = await cli.run(['keys', 'rotate', '--source', 'secrets-manager', '--prefix', prefix, '--json'], {
      env: { AWS_REGION: 'us-west-2' },
    });

    // Assess
    expect([unset.code, elsewhere.code]).toEqual([0, 0]);
    expect(await keysIn('eu-central-1', `${prefix}/typing-keys`)).toEqual([unset.json().key, elsewhere.json().key]);
    expect(await keysIn('us-west-2', `${prefix}/typing-keys`)).toBe('ResourceNotFoundException');
    // One line about an older Node at most, never the AWS SDK's own nine-line warning.
    expect(unset.stderr).not.toContain('NodeVersionSupportWarning');
  });

  it('is the one --region names', async () => {
    // Prepare
    const prefix = uniquePrefix();

    // Act
    const result = await cli.run([
      'keys',
      'rotate',
      '--stage',
      'prod',
      '--prefix',
      prefix,
      '--region',
      'us-east-1',
      '--json',
    ]);
    const bad = await cli.run(['portal', 'list', '--stage', 'prod', '--region', 'Frankfurt']);

    // Assess
    expect(result.code).toBe(0);
    expect(await keysIn('us-east-1', `${prefix}/typing-keys`)).toEqual([result.json().key]);
    expect(await keysIn('eu-central-1', `${prefix}/typing-keys`)).toBe('ResourceNotFoundException');
    expect(bad.code).toBe(2);
    expect(bad.notes).toContain('error: --region: "Frankfurt" is not a region such as eu-central-1');
  });
});

describe('a --stage', () => {
  it('reads and writes Secrets Manager under that stage, never the local file', async () => {
    // Prepare
    const stage = `s${randomBytes(4).toString('hex')}`;
    const dir = await mkdtemp(join(tmpdir(), 'stage-'));

    // Act
    const added = await cli.run(['keys', 'rotate', '--stage', stage, '--json'], { cwd: dir });
    const again = await cli.run(['keys', 'rotate', '--stage', stage, '--json'], { cwd: dir });
    const retired = await cli.run(['keys', 'rotate', '--retire', '--stage', stage, '--json'], { cwd: dir });

    // Assess
    expect([added.code, again.code, retired.code]).toEqual([0, 0, 0]);
    expect(added.json()).toMatchObject({ secret: `bitrix24-typing/${stage}/typing-keys`, source: 'secrets-manager' });
    expect(retired.json()).toMatchObject({ source: 'secrets-manager', liveKeys: 1 });
    expect(await keysIn('eu-central-1', `bitrix24-typing/${stage}/typing-keys`)).toEqual([again.json().key]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('still writes a file the operator names with --source', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'stage-'));

    // Act
    const result = await cli.run(['keys', 'rotate', '--stage', 'qa', '--source', 'file:creds.json', '--json'], {
      cwd: dir,
    });

    // Assess
    expect(result.code).toBe(0);
    const file = JSON.parse(await readFile(join(dir, 'creds.json'), 'utf8')) as Record<string, unknown>;
    expect(file['bitrix24-typing/qa/typing-keys']).toEqual({ keys: [result.json().key] });
  });
});

describe('a customer-managed KMS key', () => {
  it('encrypts the secrets the CLI creates when --kms-key names one', async () => {
    // Prepare
    const prefix = uniquePrefix();
    const key = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

    // Act
    const result = await cli.run(['keys', 'rotate', '--stage', 'prod', '--prefix', prefix, '--kms-key', key]);
    const bad = await cli.run(['keys', 'rotate', '--stage', 'prod', '--prefix', prefix, '--kms-key', 'alias/mine']);

    // Assess
    expect(result.code).toBe(0);
    const described = await new SecretsManagerClient({ region: 'eu-central-1' }).send(
      new DescribeSecretCommand({ SecretId: `${prefix}/typing-keys` }),
    );
    expect(described.KmsKeyId).toBe(key);
    expect(bad.code).toBe(2);
    expect(bad.notes).toContain('error: --kms-key: expected a KMS key ARN');
  });
});

describe('the working directory', () => {
  it("finds the sandbox file at the project root from any of the project's folders", async () => {
    // Prepare
    const root = await mkdtemp(join(tmpdir(), 'project-'));
    await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'bitrix24-typing' }));
    await mkdir(join(root, 'lib', 'client'), { recursive: true });
    const webhook = ['--domain', 'example.bitrix24.com', '--webhook', 'https://example.bitrix24.com/rest/1/abc/'];

    // Act
    const added = await cli.run(['portal', 'add', ...webhook], { cwd: join(root, 'lib') });
    const listed = await cli.run(['portal', 'list', '--json'], { cwd: join(root, 'lib', 'client') });

    // Assess
    expect(added.code).toBe(0);
    expect(added.stdout).toBe(
      `Added example.bitrix24.com (webhook) as bitrix24-typing/dev/portals/example.bitrix24.com in file:${root}/.local/credentials.json.\n`,
    );
    expect(listed.json()).toMatchObject({ portals: ['example.bitrix24.com'] });
    expect(await readdir(join(root, 'lib'))).toEqual(['client']);
  });

  it('says where it looked when no project is found', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'elsewhere-'));

    // Act
    const result = await cli.run(['portal', 'list'], { cwd: dir });

    // Assess
    expect(result.code).toBe(0);
    expect(result.notes).toBe(
      `No bitrix24-typing project in ${dir} or above: used .local/credentials.json here.\n` +
        `No portals under bitrix24-typing/dev/portals/ in file:${dir}/.local/credentials.json.\n`,
    );
  });
});
