// `npm run simulator`: the sandbox's Bitrix24 portal on its own, on SIMULATOR_PORT (3010), as a stand-in for a real
// portal when the production path is rehearsed against an AWS emulator (README, "Rehearsing against moto"). It
// prints its inbound webhook URL for `portal add`, then every call it receives, until Ctrl-C.
import { importSandboxModule } from './sandbox-module.mjs';

const port = Number(process.env.SIMULATOR_PORT ?? 3010);
const { startStandalonePortal } = await importSandboxModule('standalone');
const { portal, webhookUrl } = await startStandalonePortal({ port, print: (line) => console.log(`[portal] ${line}`) });
console.log(
  [
    `Bitrix24 portal simulator for ${portal.domain} on ${portal.url}`,
    `  inbound webhook (scope imbot): ${webhookUrl}`,
    'Store it with "bitrix24-typing portal add --domain sandbox.bitrix24.test --webhook <that url> ...";',
    'its bots are created by "bitrix24-typing bot register". Ctrl-C stops it.',
  ].join('\n'),
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => portal.close().then(() => process.exit(0)));
