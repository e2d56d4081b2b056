import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ResourceNotFoundException,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDynamoDBState, STATE_DEFAULTS, StateUnavailableError } from '../../../lib/state/index.js';
import { captureLogger } from '../../support/logs.js';

const NOW = 1_700_000_000_000;
type Item = Record<string, AttributeValue>;
type Reply = { attributes: Item } | { refusedWith: Item | undefined } | { error: Error };

/** A DynamoDB client that answers each call from a script and keeps what it was sent. */
function scriptedClient(replies: Reply[]) {
  const sent: Array<{ name: string; input: Record<string, unknown> }> = [];
  // A real client (Powertools checks it is one) whose every call is answered here; nothing leaves the process.
  const client = new DynamoDBClient({ region: 'eu-central-1' });
  Object.assign(client, {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ name: command.constructor.name, input: command.input });
      const reply = replies.shift();
      if (reply === undefined) throw new Error('unscripted call');
      if ('error' in reply) throw reply.error;
      if ('refusedWith' in reply) {
        throw new ConditionalCheckFailedException({ message: 'refused', $metadata: {}, Item: reply.refusedWith });
      }
      return { Attributes: reply.attributes };
    },
  });
  return { client, sent };
}

function stateWith(replies: Reply[]) {
  const { client, sent } = scriptedClient(replies);
  const { logger } = captureLogger();
  const state = createDynamoDBState({ ...STATE_DEFAULTS, client, tableName: 'state', logger, now: () => NOW });
  return { state, sent };
}

const budget = { burst: 3, perSecond: 2 };
const bucket = (tat: number, windows: Record<string, number> = {}): Item => ({
  id: { S: 'budget#portal' },
  tat: { N: String(tat) },
  ...Object.fromEntries(Object.entries(windows).map(([key, until]) => [`w#${key}`, { N: String(until) }])),
});
const slot = { coalesceKey: 'portal|39|chat1', windowMs: 10_000, budgetKey: 'portal', budget };

describe('DynamoDB state: round trips and what a refused write tells', () => {
  it('creates a budget item or restarts a drained one with its first write, then goes on top with one write each', async () => {
    // Prepare
    const { state, sent } = stateWith([{ attributes: bucket(NOW + 500) }, { attributes: bucket(NOW + 1_000) }]);
    // Act
    const admissions = [await state.admit('portal', budget), await state.admit('portal', budget)];
    // Assess
    expect(admissions).toEqual([{ admitted: true }, { admitted: true }]);
    expect(sent.map((call) => call.input.ConditionExpression)).toEqual([
      '(attribute_not_exists(#n0) OR #n0 < :v2)',
      '#n0 BETWEEN :v2 AND :v3',
    ]);
  });

  it('goes on top of a busy bucket with a second write when a cold container’s first guess (fresh) was wrong', async () => {
    // Prepare
    const { state, sent } = stateWith([{ refusedWith: bucket(NOW + 500) }, { attributes: bucket(NOW + 1_000) }]);
    // Act
    const admission = await state.admit('portal', budget);
    // Assess
    expect(admission).toEqual({ admitted: true });
    expect(sent.map((call) => call.input.ConditionExpression)).toEqual([
      '(attribute_not_exists(#n0) OR #n0 < :v2)',
      '#n0 BETWEEN :v2 AND :v3',
    ]);
  });

  it('refuses an admission without a round trip once it saw the budget spent', async () => {
    // Prepare
    const { state, sent } = stateWith([{ refusedWith: bucket(NOW + 1_500) }]);
    // Act
    const refusals = [await state.admit('portal', budget), await state.admit('portal', budget)];
    // Assess
    expect(refusals).toEqual([
      { admitted: false, retryAfterMs: 500 },
      { admitted: false, retryAfterMs: 500 },
    ]);
    expect(sent).toHaveLength(1);
  });

  it('tells an open window (coalesced) before a spent budget, in one round trip', async () => {
    const { state, sent } = stateWith([{ refusedWith: bucket(NOW + 1_500, { [slot.coalesceKey]: NOW + 5_000 }) }]);
    await expect(state.takeTypingSlot(slot)).resolves.toEqual({ kind: 'coalesced' });
    expect(sent).toHaveLength(1);
  });

  it('takes over a window a copy of the same request opened instead of coalescing against it, spending nothing', async () => {
    // Prepare: the window and its holder entry, as a copy's acquiring write left them
    const copyWindow = { [slot.coalesceKey]: NOW + 5_000, [`${slot.coalesceKey}|held-by|typing#msg_1`]: NOW + 5_000 };
    const { state, sent } = stateWith([{ refusedWith: bucket(NOW + 1_500, copyWindow) }, { attributes: bucket(NOW) }]);
    // Act
    const taken = await state.takeTypingSlot({ ...slot, holder: 'typing#msg_1' });
    // Assess: one more write makes the window this container's, conditioned on it still being the copy's
    expect(taken).toEqual({ kind: 'acquired' });
    expect(sent.map((call) => call.name)).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    expect(sent[1]?.input).toMatchObject({
      UpdateExpression: 'SET #window = :until, #holder = :until',
      ConditionExpression: '#window = :theirs',
      ExpressionAttributeNames: {
        '#window': `w#${slot.coalesceKey}`,
        '#holder': `w#${slot.coalesceKey}|held-by|typing#msg_1`,
      },
      ExpressionAttributeValues: { ':until': { N: String(NOW + 10_000) }, ':theirs': { N: String(NOW + 5_000) } },
    });
  });

  it('coalesces against a window another request opened, whatever the holder', async () => {
    const otherWindow = { [slot.coalesceKey]: NOW + 5_000, [`${slot.coalesceKey}|held-by|typing#msg_2`]: NOW + 5_000 };
    const { state, sent } = stateWith([{ refusedWith: bucket(NOW + 1_500, otherWindow) }]);
    await expect(state.takeTypingSlot({ ...slot, holder: 'typing#msg_1' })).resolves.toEqual({ kind: 'coalesced' });
    expect(sent).toHaveLength(1);
  });

  it('still asks for a typing slot on a budget it saw spent, since the dialog’s window may be open', async () => {
    // Prepare
    const { state, sent } = stateWith([
      { refusedWith: bucket(NOW + 1_500) },
      { refusedWith: bucket(NOW + 1_500, { [slot.coalesceKey]: NOW + 5_000 }) },
    ]);
    // Act
    const refused = await state.takeTypingSlot({ ...slot, coalesceKey: 'portal|39|chat2' });
    const coalesced = await state.takeTypingSlot(slot);
    // Assess
    expect([refused, coalesced]).toEqual([{ kind: 'rate-limited', retryAfterMs: 500 }, { kind: 'coalesced' }]);
    expect(sent).toHaveLength(2);
  });

  it('removes windows it saw lapsed with its next write, never the one it opens', async () => {
    // Prepare
    const { state, sent } = stateWith([
      { attributes: bucket(NOW + 500, { 'portal|39|old': NOW - 1, [slot.coalesceKey]: NOW - 1 }) },
      { attributes: bucket(NOW + 1_000) },
    ]);
    // Act
    await state.takeTypingSlot({ ...slot, coalesceKey: 'portal|39|first' });
    await state.takeTypingSlot(slot);
    // Assess
    const second = sent[1]!.input;
    const removed = String(second.UpdateExpression).split(' REMOVE ')[1] ?? '';
    const names = second.ExpressionAttributeNames as Record<string, string>;
    expect(
      removed.split(', ').map((path) =>
        path
          .split('.')
          .map((name) => names[name])
          .join('.'),
      ),
    ).toEqual(['w#portal|39|old']);
  });

  it('never prunes the holder entry of the window it reopens for the same request (a path may appear once)', async () => {
    // Prepare: the window and its holder entry of an earlier copy of this request, both lapsed
    const holderEntry = `${slot.coalesceKey}|held-by|typing#msg_1`;
    const { state, sent } = stateWith([
      {
        attributes: bucket(NOW + 500, {
          [slot.coalesceKey]: NOW - 1,
          [holderEntry]: NOW - 1,
          'portal|39|old': NOW - 1,
        }),
      },
      { attributes: bucket(NOW + 1_000) },
    ]);
    // Act
    await state.takeTypingSlot({ ...slot, coalesceKey: 'portal|39|first' });
    await state.takeTypingSlot({ ...slot, holder: 'typing#msg_1' });
    // Assess
    const second = sent[1]!.input;
    const names = second.ExpressionAttributeNames as Record<string, string>;
    const removed = (String(second.UpdateExpression).split(' REMOVE ')[1] ?? '').split(', ').map((n) => names[n]);
    expect(removed).toEqual(['w#portal|39|old']);
    expect(String(second.ConditionExpression)).toContain('attribute_not_exists');
  });

  it('gives up after four writes on a bucket that moves under each (a table edited by hand), refusing for one interval', async () => {
    const { state, sent } = stateWith([
      { refusedWith: bucket(NOW + 100) },
      { refusedWith: bucket(NOW - 1) },
      { refusedWith: bucket(NOW + 100) },
      { refusedWith: bucket(NOW - 1) },
    ]);
    await expect(state.admit('portal', budget)).resolves.toEqual({ admitted: false, retryAfterMs: 500 });
    expect(sent).toHaveLength(4);
  });

  it('judges every retry at the first attempt’s instant: a peer’s admission makes the next write busy, not fresh', async () => {
    // Prepare: the clock moves two intervals (1,000 ms) between readings, as when writes queue on a hot item
    const { client, sent } = scriptedClient([{ refusedWith: bucket(NOW + 500) }, { attributes: bucket(NOW + 1_000) }]);
    const { logger } = captureLogger();
    let now = NOW - 1_000;
    const state = createDynamoDBState({
      ...STATE_DEFAULTS,
      client,
      tableName: 'state',
      logger,
      now: () => (now += 1_000),
    });
    // Act
    const admission = await state.admit('portal', budget);
    // Assess: guess fresh, then busy on top of the peer's admission (at a later clock it would look drained)
    expect(admission).toEqual({ admitted: true });
    expect(sent.map((call) => call.input.ConditionExpression)).toEqual([
      expect.stringMatching(/^\(attribute_not_exists\(#n\d+\) OR #n\d+ < :v\d+\)$/),
      expect.stringContaining('BETWEEN'),
    ]);
  });

  it('turns any other failure into StateUnavailableError, for the fail-over to cover', async () => {
    const missing = new ResourceNotFoundException({ message: 'no table', $metadata: {} });
    const { state } = stateWith([{ error: missing }, { error: missing }]);
    await expect(state.claim('delivery', 1_000)).rejects.toBeInstanceOf(StateUnavailableError);
    await expect(state.takeTypingSlot(slot)).rejects.toMatchObject({ operation: 'takeTypingSlot', cause: missing });
  });
});
