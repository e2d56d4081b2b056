import { randomBytes } from 'node:crypto';
import { startPortal, type FakePortal } from './portal/index.js';
import { describeCall, SANDBOX_DOMAIN } from './simulator.js';

/**
 * The sandbox's portal on its own, without a credentials file: a stand-in for a real portal when the production
 * path is rehearsed against an AWS emulator (README, "Rehearsing against moto"). It has one inbound webhook, whose
 * URL goes to `portal add`; `bot register` then creates the bot through it, as on a real portal.
 */
export async function startStandalonePortal(options: {
  port: number;
  print: (line: string) => void;
}): Promise<{ portal: FakePortal; webhookUrl: string }> {
  const portal = await startPortal({
    domain: SANDBOX_DOMAIN,
    port: options.port,
    onCall: (call) => options.print(describeCall(call)),
  });
  const webhookUrl = portal.addWebhook({ userId: 1, code: randomBytes(16).toString('hex') });
  return { portal, webhookUrl };
}
