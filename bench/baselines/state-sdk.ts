/** The baselines' DynamoDB requests sent through the SDK client, as plainly as the SDK allows. */
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { runOnce } from './state-requests.js';

export function sdkRunOnce(client = new DynamoDBClient({})) {
  return runOnce({
    put: (input) => client.send(new PutItemCommand(input)),
    update: (input) => client.send(new UpdateItemCommand(input)),
  });
}
