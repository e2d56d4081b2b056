import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SecretStoreError, type SecretStore } from './secret-store.js';

/**
 * A local JSON file mapping secret names to their JSON values, for runs without AWS:
 * `{"bitrix24-typing/dev/typing-keys": {"keys": ["whsec_..."]}, ...}`.
 * Writes replace the file atomically; claims are exclusive-create files beside it, so separate processes
 * (serverless-offline workers) still agree on who refreshes a token.
 */
export function createFileStore(path: string): SecretStore {
  const load = async (): Promise<Record<string, unknown>> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new SecretStoreError(`cannot read credentials file ${path}`, { cause: error });
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      return parsed as Record<string, unknown>;
    } catch (error) {
      throw new SecretStoreError(`credentials file ${path} is not a JSON object of secrets`, { cause: error });
    }
  };
  const versionsPath = `${path}.versions`;
  const claimsPath = `${path}.claims`;

  const fileFor = (dir: string, key: string) => join(dir, key.replace(/[^A-Za-z0-9_-]/g, '_'));
  const exclusiveCreate = async (dir: string, key: string, content: string): Promise<string | undefined> => {
    await mkdir(dir, { recursive: true });
    const file = fileFor(dir, key);
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(content);
      await handle.close();
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return readFile(file, 'utf8');
    }
  };

  return {
    async read(name) {
      const all = await load();
      const value = all[name];
      return value === undefined ? undefined : JSON.stringify(value);
    },

    async write(name, value, { versionKey } = {}) {
      if (versionKey !== undefined) {
        const existing = await exclusiveCreate(versionsPath, versionKey, value);
        if (existing !== undefined && existing !== value) return 'conflict';
      }
      const all = await load();
      all[name] = JSON.parse(value) as unknown;
      await mkdir(dirname(path), { recursive: true });
      const temp = `${path}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
      await rename(temp, path);
      return 'written';
    },

    async claim(_name, key, owner) {
      const existing = await exclusiveCreate(claimsPath, key, owner);
      return existing === undefined || existing === owner;
    },

    async list(prefix) {
      return Object.keys(await load())
        .filter((name) => name.startsWith(prefix))
        .sort();
    },

    async readClaim(_name, key) {
      try {
        return await readFile(fileFor(claimsPath, key), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
  };
}
