import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import packageJson from '../package.json' with { type: 'json' };

/** The nearest folder at or above `from` whose package.json is this project's, or undefined. */
export function findProjectRoot(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const found = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (found.name === packageJson.name) return dir;
    } catch {
      // no package.json here, or not JSON: look further up
    }
    if (dirname(dir) === dir) return undefined;
  }
}
