import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { random } from '../../devtools/fixtures.js';

export interface ObservedBus {
  name: string;
  /** Events delivered to the bus so far (EventBridge envelopes with `detail-type`, `source`, `detail`). */
  received(): Promise<Array<{ source: string; 'detail-type': string; detail: Record<string, unknown> }>>;
}

/** A moto EventBridge bus with a catch-all rule into an SQS queue, so tests can read what was published. */
export async function observedBus(): Promise<ObservedBus> {
  const events = new EventBridgeClient({});
  const sqs = new SQSClient({});
  const name = `bus-${random(4)}`;
  await events.send(new CreateEventBusCommand({ Name: name }));
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: `q-${random(4)}` }));
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await events.send(
    new PutRuleCommand({
      Name: 'all',
      EventBusName: name,
      EventPattern: JSON.stringify({ source: ['bitrix24.imbot'] }),
    }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: 'all',
      EventBusName: name,
      Targets: [{ Id: 'q', Arn: attrs.Attributes!.QueueArn! }],
    }),
  );
  const seen: Array<{ source: string; 'detail-type': string; detail: Record<string, unknown> }> = [];
  return {
    name,
    async received() {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      for (const message of out.Messages ?? []) seen.push(JSON.parse(message.Body ?? '{}'));
      return seen;
    },
  };
}
