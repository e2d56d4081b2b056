import { ESLint } from 'eslint';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let eslint: ESLint;

/** The layer-rule findings `npm run lint` would report for `code` saved at `filePath`. */
async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports' && message.severity === 2)
    .map((message) => message.message);
}

describe('the lib/ layer rule in eslint.config.js', () => {
  beforeAll(() => {
    eslint = new ESLint({ cwd: root });
  });

  it('rejects an upward import: the wire protocol importing the portal layer', async () => {
    const errors = await layerErrors(
      'lib/bitrix24/x.ts',
      "import { portalClient } from '../portal/index.js';\nexport const client = portalClient;\n",
    );

    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("'../portal/index.js'");
  });

  it('rejects an import between folders of the same layer, so no cycle can form', async () => {
    const errors = await layerErrors(
      'lib/bitrix24/x.ts',
      "import { SecretStore } from '../secrets/x.js';\nexport type Store = SecretStore;\n",
    );

    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("'../secrets/x.js'");
  });

  it('accepts a downward import: the portal layer importing the wire protocol', async () => {
    const [result] = await eslint.lintText(
      "import { Bitrix24Error } from '../bitrix24/x.js';\nexport const isUpstream = (e: unknown) => e instanceof Bitrix24Error;\n",
      { filePath: 'lib/portal/x.ts' },
    );

    expect(result?.messages).toEqual([]);
  });

  it('rejects lib/ importing an entry point under functions/', async () => {
    const errors = await layerErrors(
      'lib/bitrix24/x.ts',
      "import { handler } from '../../functions/typing.js';\nexport const typing = handler;\n",
    );

    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("'../../functions/typing.js'");
  });

  it('lets functions/ import any lib folder', async () => {
    const errors = await layerErrors(
      'functions/x.ts',
      "import { client } from '../lib/client/index.js';\nimport { config } from '../lib/config/index.js';\nexport const both = [client, config];\n",
    );

    expect(errors).toEqual([]);
  });

  it('keeps the metrics and tracing ports at the foundation: every layer may record through them, they import none', async () => {
    const upward = await layerErrors(
      'lib/metrics/x.ts',
      "import { createLogger } from '../logging/index.js';\nexport const logger = createLogger;\n",
    );
    const [fromPortal] = await eslint.lintText(
      "import { noMetrics } from '../metrics/index.js';\nimport { noTracing } from '../tracing/index.js';\nexport const both = [noMetrics, noTracing];\n",
      { filePath: 'lib/portal/x.ts' },
    );

    expect(upward).toHaveLength(1);
    expect(fromPortal?.messages).toEqual([]);
  });

  it('ranks every folder under lib/: each one below the caller client is barred from importing it', async () => {
    const folders = readdirSync(join(root, 'lib'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name !== 'client')
      .map((entry) => entry.name);

    const unranked: string[] = [];
    for (const folder of folders) {
      const errors = await layerErrors(`lib/${folder}/x.ts`, "export { typing } from '../client/index.js';\n");
      if (errors.length === 0) unranked.push(folder);
    }

    expect(folders.length).toBeGreaterThan(0);
    expect(unranked).toEqual([]);
  });
});

describe('the size rules in eslint.config.js', () => {
  beforeAll(() => {
    eslint = new ESLint({ cwd: root });
  });

  /** The size findings `npm run lint` would report for `code` saved at `filePath`. */
  async function sizeErrors(filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? [])
      .filter((message) => message.ruleId?.startsWith('max-lines') && message.severity === 2)
      .map((message) => message.ruleId as string);
  }
  const statements = (count: number) => Array.from({ length: count }, (_, i) => `  total += ${i};`).join('\n');
  const fn = (count: number) =>
    `export function long() {\n  let total = 0;\n${statements(count)}\n  return total;\n}\n`;

  it('rejects a function over 80 lines outside test/, and accepts one of 80', async () => {
    expect(await sizeErrors('lib/portal/x.ts', fn(79))).toEqual(['max-lines-per-function']);
    expect(await sizeErrors('bin/commands/x.ts', fn(79))).toEqual(['max-lines-per-function']);
    expect(await sizeErrors('lib/portal/x.ts', fn(76))).toEqual([]);
  });

  it('rejects a file over 300 lines outside test/, not counting comments, and leaves tests alone', async () => {
    const many = Array.from({ length: 301 }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n';
    const commented = Array.from({ length: 301 }, (_, i) => `// note ${i}`).join('\n') + '\nexport const v = 1;\n';

    expect(await sizeErrors('sandbox/portal/x.ts', many)).toEqual(['max-lines']);
    expect(await sizeErrors('sandbox/portal/x.ts', commented)).toEqual([]);
    expect(await sizeErrors('test/unit/x.test.ts', many + fn(200))).toEqual([]);
  });
});
