#!/usr/bin/env node
import { run } from './program.js';
import { nodeVersionNotice } from './node-version.js';

const notice = nodeVersionNotice(process.version);
if (notice !== undefined) {
  process.stderr.write(`${notice}\n`);
  // Said once above, in one line; the AWS SDK would add nine more lines of its own on every call.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
process.exitCode = await run(process.argv.slice(2));
