import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ProjectCopy {
  root: string;
  remove(): Promise<void>;
}

/**
 * The project's files as a clone would hold them (tracked and new, never ignored output), in a temporary folder
 * with the installed node_modules linked in. Start-up and packaging tests run there, so their .local/, .esbuild/
 * and .serverless/ are their own and never the working tree's.
 */
export async function copyProject(): Promise<ProjectCopy> {
  const source = process.cwd();
  const root = await mkdtemp(join(tmpdir(), 'b24-project-'));
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: source,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    await mkdir(dirname(join(root, file)), { recursive: true });
    // A tracked file deleted in the working tree is not part of what is being tested.
    await copyFile(join(source, file), join(root, file)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  await symlink(join(source, 'node_modules'), join(root, 'node_modules'));
  return { root, remove: () => rm(root, { recursive: true, force: true }) };
}
