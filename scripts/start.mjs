// `npm start`: serves both routes through serverless-offline on http://localhost:${PORT:-3000}.
//
// With CREDENTIALS_SOURCE unset it starts the sandbox: credentials from .local/credentials.json (seeded from
// sandbox/credentials.example.json on first start) and the portal simulator on SIMULATOR_PORT (3010), which
// prints every call it receives. With CREDENTIALS_SOURCE set (secrets-manager or file:<path>) it serves exactly
// what that source holds, and starts no simulator.
//
// With STATE_TABLE set, state shared across containers (idempotency, coalescing, portal budgets, deliveries) lives
// in that DynamoDB table on the emulator AWS_ENDPOINT_URL_DYNAMODB points at (moto), created first from the
// definition serverless.yml deploys. Without it, each emulated container keeps its own state in memory.
//
// Before touching anything it checks that its ports are free, so a second `npm start` says so in one line and
// leaves the first one's credentials file alone. Its bundles live in a folder of their own (.cache/offline/<pid>),
// so `npm run package` or `npm run cfn-lint`, which delete .esbuild/, cannot pull the code from under it.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { styleText } from 'node:util';
import { importSandboxModule } from './sandbox-module.mjs';
import { ensureStateTable } from './state-table.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 3000);
const sandbox = !process.env.CREDENTIALS_SOURCE;
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (style, text) => (color ? styleText(style, text) : text);

const env = { ...process.env };

const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const requiredMajor = Number(/\d+/.exec(engines.node)[0]);
if (Number(process.versions.node.split('.')[0]) < requiredMajor) {
  console.error(
    `warning: bitrix24-typing requires Node.js ${requiredMajor} (package.json engines ${engines.node}, .nvmrc); ` +
      `this is ${process.version}. Run "nvm use" in the project, or install Node.js ${requiredMajor}.`,
  );
  // Said once above; the AWS SDK in every emulated container would add nine lines of its own.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}

/** Whether something already listens on the port, on any local address (a wildcard bind conflicts with all). */
const portInUse = (candidate) =>
  new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', (error) => resolvePort(error.code === 'EADDRINUSE'));
    probe.listen(candidate, () => probe.close(() => resolvePort(false)));
  });
const ports = [
  ['PORT', port],
  ['LAMBDA_PORT', Number(process.env.LAMBDA_PORT ?? 3002)],
  ...(sandbox ? [['SIMULATOR_PORT', Number(process.env.SIMULATOR_PORT ?? 3010)]] : []),
];
const busy = [];
for (const [name, value] of ports) if (await portInUse(value)) busy.push(`${value} (${name})`);
if (busy.length > 0) {
  const which = busy.length === 1 ? `port ${busy[0]} is` : `ports ${busy.join(' and ')} are`;
  console.error(
    `npm start: ${which} already in use, most likely by another npm start; stop it, or pick free ports, e.g. ` +
      'PORT=3100 LAMBDA_PORT=3102 SIMULATOR_PORT=3110 npm start. Nothing was started or changed.',
  );
  process.exit(1);
}

// This run's bundles; folders left by runs that are gone are removed.
const offlineDir = join(root, '.cache', 'offline');
mkdirSync(offlineDir, { recursive: true });
for (const name of readdirSync(offlineDir)) {
  const pid = Number(name);
  let alive;
  try {
    alive = Number.isInteger(pid) && process.kill(pid, 0);
  } catch {
    alive = false;
  }
  if (!alive) rmSync(join(offlineDir, name), { recursive: true, force: true });
}
const workFolder = join('.cache', 'offline', String(process.pid));
// serverless.yml falls back to the deployed table's CloudFormation Ref, which the emulator cannot resolve.
env.STATE_TABLE = process.env.STATE_TABLE?.trim() ?? '';
const stateLine = env.STATE_TABLE
  ? `  shared state          DynamoDB table ${env.STATE_TABLE} (holds across containers)`
  : '  shared state          none: each container keeps its own (set STATE_TABLE for a DynamoDB table)';
if (env.STATE_TABLE) {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    console.error('STATE_TABLE is set but AWS_ENDPOINT_URL_DYNAMODB is not: point it at a DynamoDB emulator (moto).');
    process.exit(2);
  }
  await ensureStateTable({ endpoint, tableName: env.STATE_TABLE, region: process.env.AWS_REGION });
}
let simulator;
if (sandbox) {
  const simulatorPort = Number(process.env.SIMULATOR_PORT ?? 3010);
  const credentialsPath = resolve(root, '.local', 'credentials.json');
  const { seedCredentials, startSimulator, SANDBOX_PREFIX, SANDBOX_DOMAIN } = await importSandboxModule('simulator');
  const { created } = seedCredentials(
    join(root, 'sandbox', 'credentials.example.json'),
    credentialsPath,
    simulatorPort,
  );
  simulator = await startSimulator({
    credentialsPath,
    port: simulatorPort,
    print: (line) => process.stdout.write(`${paint('magenta', '[portal]')} ${line}\n`),
  });
  Object.assign(env, { CREDENTIALS_SOURCE: `file:${credentialsPath}`, SECRETS_PREFIX: SANDBOX_PREFIX, STAGE: 'dev' });
  simulator.banner = [
    '',
    paint('bold', 'bitrix24-typing sandbox is running: no AWS account, no real portal.'),
    `  POST /typing          http://localhost:${port}/typing`,
    `  POST /bitrix/events   http://localhost:${port}/bitrix/events`,
    `  portal simulator      ${simulator.portal.url}  (${SANDBOX_DOMAIN}, bot ${simulator.botId} and v2 bot 567; prints each call as [portal])`,
    `  credentials           ${credentialsPath}${created ? ' (just created, with a fresh signing key)' : ''}`,
    stateLine,
    '',
    'Next, in a second terminal:',
    `  npx bitrix24-typing typing send --portal ${SANDBOX_DOMAIN} --dialog chat1${port === 3000 ? '' : ` --url http://localhost:${port}`}`,
    `  npx bitrix24-typing typing send --portal ${SANDBOX_DOMAIN} --dialog chat1 --bot 567 --duration 60 --status thinking${port === 3000 ? '' : ` --url http://localhost:${port}`}`,
    `  npx bitrix24-typing events send bin/fixtures/message-webhook-bot.txt --url http://localhost:${port} --domain ${SANDBOX_DOMAIN} --stored-token`,
    '',
    'Real AWS and portals: set CREDENTIALS_SOURCE=secrets-manager (see README, "Configuration").',
    '',
  ].join('\n');
}

// Parameters, not environment variables: serverless.yml reads the credentials source and the state table only
// from --param, so a deploy or package never ships a CREDENTIALS_SOURCE or STATE_TABLE its shell happens to hold.
// (osls refuses an empty --param: memory-only state is asked for by name.)
const params = [
  `--param=credentialsSource=${env.CREDENTIALS_SOURCE}`,
  `--param=esbuildWorkFolder=${workFolder}`,
  env.STATE_TABLE ? `--param=stateTable=${env.STATE_TABLE}` : '--param=sharedState=memory',
];
const child = spawn('npx', ['osls', 'offline', 'start', '--stage', env.STAGE ?? 'dev', ...params], {
  cwd: root,
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
});
// Pass the service's output through; print the sandbox's first screen once it is ready.
let ready = false;
const relay = (stream, target) =>
  stream.on('data', (chunk) => {
    target.write(chunk);
    if (!ready && chunk.toString().includes('Server ready')) {
      ready = true;
      if (simulator) process.stdout.write(simulator.banner + '\n');
    }
  });
relay(child.stdout, process.stdout);
relay(child.stderr, process.stderr);

const stop = async (signal) => {
  child.kill(signal);
  await simulator?.portal.close();
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void stop(signal));
child.on('exit', async (code) => {
  await simulator?.portal.close();
  process.exit(code ?? 0);
});
