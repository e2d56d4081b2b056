import packageJson from '../package.json' with { type: 'json' };

/** The Node.js major the project requires, from package.json's `engines` (which .nvmrc and CI follow). */
export const REQUIRED_NODE_MAJOR = Number(/\d+/.exec(packageJson.engines.node)?.[0]);

/**
 * One line for a Node.js older than the project requires, else undefined. It warns rather than refuses: the
 * commands still run there today, but the AWS SDK's releases after the first week of January 2027 need Node 22.
 */
export function nodeVersionNotice(version: string): string | undefined {
  const major = Number(/^v?(\d+)/.exec(version)?.[1]);
  if (major >= REQUIRED_NODE_MAJOR) return undefined;
  return (
    `warning: bitrix24-typing requires Node.js ${REQUIRED_NODE_MAJOR} (package.json engines ${packageJson.engines.node}, ` +
    `.nvmrc); this is ${version}. Run "nvm use" in the project, or install Node.js ${REQUIRED_NODE_MAJOR}.`
  );
}
