import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { signedTypingEvent } from '../devtools/lambda.js';

/** Who a benchmark request is for, and the bare portal call the warm stage compares the handler against. */
export interface TypingTarget {
  /** The `whsec_` key requests are signed with. */
  key: string;
  portal: string;
  botId: number;
  webhookUrl: string;
  clientId: string;
}

/** A signed `POST /typing` for one dialog, as an HTTP API (payload 2.0) delivers it. */
export function typingEvent(target: TypingTarget, dialog: string): APIGatewayProxyEventV2 {
  return signedTypingEvent({ portal: target.portal, dialogId: dialog, botId: target.botId }, target.key);
}
