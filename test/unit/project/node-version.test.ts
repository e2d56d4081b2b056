import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { nodeVersionNotice, REQUIRED_NODE_MAJOR } from '../../../bin/node-version.js';

const text = (path: string) => readFile(path, 'utf8');

describe('the Node.js the project requires', () => {
  it('is one major for engines, .nvmrc, the Lambda runtime, every bundle target, CI and README', async () => {
    // Prepare
    const packageJson = JSON.parse(await text('package.json')) as {
      engines: { node: string };
      scripts: { build: string };
    };
    const serverless = await text('serverless.yml');
    const sandboxModule = await text('scripts/sandbox-module.mjs');
    const ci = await text('.ci/run');
    const readme = await text('README.md');

    // Act
    const majors = {
      engines: /^>=(\d+)\./.exec(packageJson.engines.node)?.[1],
      nvmrc: (await text('.nvmrc')).trim(),
      lambdaRuntime: /runtime: nodejs(\d+)\.x/.exec(serverless)?.[1],
      functionBundles: /target: node(\d+)/.exec(serverless)?.[1],
      cliAndClientBuild: /--target=node(\d+)/.exec(packageJson.scripts.build)?.[1],
      sandboxBundle: /target: 'node(\d+)'/.exec(sandboxModule)?.[1],
      readme: /Needs Node\.js (\d+)/.exec(readme)?.[1],
    };

    // Assess
    expect(majors).toEqual({
      engines: '22',
      nvmrc: '22',
      lambdaRuntime: '22',
      functionBundles: '22',
      cliAndClientBuild: '22',
      sandboxBundle: '22',
      readme: '22',
    });
    expect(REQUIRED_NODE_MAJOR).toBe(22);
    // CI runs everything on the Node of scripts/lambda-node.sh (the runtime's major), not the machine's.
    expect(ci).toContain('PATH="$(scripts/lambda-node.sh):$PATH"');
    expect(ci).not.toContain("machine's Node");
  });

  it('is named in one line on an older Node, and not at all on the required one', () => {
    // Act
    const older = nodeVersionNotice('v20.20.2');
    const required = nodeVersionNotice('v22.13.0');
    const newer = nodeVersionNotice('v24.1.0');

    // Assess
    expect(older).toBe(
      'warning: bitrix24-typing requires Node.js 22 (package.json engines >=22.13, .nvmrc); this is v20.20.2. ' +
        'Run "nvm use" in the project, or install Node.js 22.',
    );
    expect([required, newer]).toEqual([undefined, undefined]);
  });
});
