import { randomBytes } from 'node:crypto';
import type { PortalCredentials } from '../lib/portal/index.js';
import type { FakePortal } from '../sandbox/portal/index.js';

export const random = (bytes = 16) => randomBytes(bytes).toString('hex');

/** A webhook-registered bot on the loopback portal, and the portal secret that serves it. */
export function webhookBotOn(
  portal: FakePortal,
  botId = 39,
): { secret: PortalCredentials; clientId: string; webhookUrl: string } {
  const clientId = random(16);
  const webhookUrl = portal.addWebhook({ userId: 1, code: random(8) });
  portal.addBot({ botId, clientId });
  return {
    secret: { domain: portal.domain, memberId: portal.memberId, botId, webhook: { url: webhookUrl, clientId } },
    clientId,
    webhookUrl,
  };
}

/** An OAuth application bot on the loopback portal, and the portal secret holding its token pair. */
export function oauthBotOn(
  portal: FakePortal,
  botId = 41,
): {
  secret: PortalCredentials & { oauth: NonNullable<PortalCredentials['oauth']> };
  clientId: string;
  clientSecret: string;
  applicationToken: string;
} {
  const clientId = `app.${random(8)}`;
  const clientSecret = random(20);
  const applicationToken = random(16);
  portal.addApp({ clientId, clientSecret, applicationToken });
  portal.addBot({ botId, appClientId: clientId });
  const tokens = portal.issueTokens(clientId);
  return {
    clientId,
    clientSecret,
    applicationToken,
    secret: {
      domain: portal.domain,
      memberId: portal.memberId,
      applicationToken,
      botId,
      oauth: {
        clientId,
        clientSecret,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        expiresAt: tokens.expiresAt,
        clientEndpoint: portal.clientEndpoint,
        serverEndpoint: portal.serverEndpoint,
      },
    },
  };
}
