/**
 * The shapes of the items lib/state writes to its one table (listed with their lifetimes in index.ts), and the
 * bounded way every call reaches the table.
 */
import { DynamoDBClient, type AttributeValue, type Put, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { bucketState, type Gcra } from './gcra.js';

export const ITEM_ID = {
  claim: (key: string) => `claim#${key}`,
  budget: (budgetKey: string) => `budget#${budgetKey}`,
};
/** An idempotency record's id is `<prefix>#<sha-256 of the request's key>`, as Powertools names them. */
export const IDEMPOTENCY_KEY_PREFIX = 'idempotency';

export const num = (value: number): AttributeValue => ({ N: String(value) });
export const str = (value: string): AttributeValue => ({ S: value });

export type Item = Record<string, AttributeValue>;

export function readNumber(item: Item | undefined, name: string): number | undefined {
  const raw = item?.[name]?.N;
  return raw === undefined ? undefined : Number(raw);
}

/** DynamoDB's TTL reads epoch seconds; rounding up never deletes an item before its own time. */
export const expirationOf = (untilMs: number): AttributeValue => num(Math.ceil(untilMs / 1000));

/**
 * A claim on `id` until `now + ttlMs`, taken only if nobody holds it now. Conditions compare `until` (ms), not
 * `expiration`: TTL deletes lapsed items only eventually, and claims are shorter than its one-second grain.
 */
export function claimPut(tableName: string, id: string, now: number, ttlMs: number, owner: string): Put {
  return {
    TableName: tableName,
    Item: { id: str(id), until: num(now + ttlMs), expiration: expirationOf(now + ttlMs), owner: str(owner) },
    ConditionExpression: 'attribute_not_exists(#id) OR #until < :now',
    ExpressionAttributeNames: { '#id': 'id', '#until': 'until' },
    ExpressionAttributeValues: { ':now': num(now) },
  };
}

/**
 * Where a budget item stands for the next admission: `fresh` (no bucket state yet, or a bucket that drained:
 * either way the admission restarts it from now) or `busy` (within its tolerance: the admission goes on top).
 * Each has its own conditional update, which fails unless the item is in that state.
 */
export type BudgetBranch = 'fresh' | 'busy';

export function budgetBranchOf(item: Item | undefined, now: number, gcra: Gcra) {
  // An item a method hold created has no `tat` yet: its first admission starts the bucket.
  return bucketState(readNumber(item, 'tat'), now, gcra);
}

/**
 * Each typing window is a top-level attribute of the budget item, `w#<coalesceKey>` (end in ms), so an admission
 * can open one whether or not the item exists yet: a path inside a map needs the map first, which would split
 * "new" from "drained" into two guesses and cost a cold container a second write on a quiet portal.
 */
const WINDOW_PREFIX = 'w#';
export const windowAttribute = (coalesceKey: string) => `${WINDOW_PREFIX}${coalesceKey}`;

/** The typing windows the item holds, coalescing key to end (ms). */
export function windowsOf(item: Item | undefined): Record<string, number> {
  return Object.fromEntries(
    Object.entries(item ?? {})
      .filter(([name, value]) => name.startsWith(WINDOW_PREFIX) && value.N !== undefined)
      .map(([name, value]) => [name.slice(WINDOW_PREFIX.length), Number(value.N)]),
  );
}

/** Builds an expression with placeholders for every name and value, and only those it uses. */
class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  name(attribute: string): string {
    const existing = Object.entries(this.names).find(([, name]) => name === attribute);
    if (existing) return existing[0];
    const placeholder = `#n${Object.keys(this.names).length}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }
  value(value: AttributeValue): string {
    const placeholder = `:v${Object.keys(this.values).length}`;
    this.values[placeholder] = value;
    return placeholder;
  }
}

export interface BudgetUpdate {
  tableName: string;
  budgetKey: string;
  gcra: Gcra;
  now: number;
  branch: BudgetBranch;
  /** A typing window to open with the admission: refused, with it, while the same window is open. */
  window?: { key: string; until: number; holder?: string };
  /** Windows seen lapsed earlier, removed on the way so the item stays small. */
  lapsed?: string[];
  /** The method the admission is for: refused while the item holds it back (`holdOf`). */
  method?: string;
}

/** A method held back on the budget's portal: a top-level attribute, so a hold needs no map to exist first. */
export const holdAttribute = (method: string) => `hold#${method.toLowerCase()}`;

/** Until when (ms) `item` holds `method` back, if it does. */
export const holdOf = (item: Item | undefined, method: string) => readNumber(item, holdAttribute(method));

/**
 * The longest a method is held back: the platform sums a method's time in ten one-minute baskets, so its budget is
 * back within ten minutes; a minute more for clocks. The budget item outlives any hold (ITEM_LIFE_MS).
 */
export const MAX_HOLD_MS = 11 * 60_000;
/** How long a budget item lives past its last write: past its `tat`, any typing window and any hold. */
const ITEM_LIFE_MS = MAX_HOLD_MS + 60_000;

/** Holds `method` back until `untilMs` (at most MAX_HOLD_MS from `now`), only ever later than a stored hold. */
export function holdUpdate(tableName: string, budgetKey: string, method: string, untilMs: number, now: number) {
  const until = Math.min(untilMs, now + MAX_HOLD_MS);
  return {
    TableName: tableName,
    Key: { id: str(ITEM_ID.budget(budgetKey)) },
    UpdateExpression: 'SET #hold = :until, #expiration = :expiration',
    ConditionExpression: 'attribute_not_exists(#hold) OR #hold < :until',
    ExpressionAttributeNames: { '#hold': holdAttribute(method), '#expiration': 'expiration' },
    ExpressionAttributeValues: { ':until': num(until), ':expiration': expirationOf(now + ITEM_LIFE_MS) },
  } satisfies UpdateItemCommandInput;
}

/** At most this many lapsed windows are removed per write, to keep the expression small. */
const MAX_PRUNED = 20;

/**
 * One GCRA admission (and optionally one typing window) as one conditional update of the budget's item. The item
 * outlives its `tat`, any typing window and any hold (ITEM_LIFE_MS), so TTL never drops live state. Windows seen
 * lapsed are removed on the way, each only if it is still lapsed: another container may have reopened it since.
 */
export function budgetUpdate(update: BudgetUpdate): UpdateItemCommandInput {
  const { gcra, now, branch, window } = update;
  const e = new Expression();
  const tat = e.name('tat');
  const set = [
    `${e.name('expiration')} = ${e.value(expirationOf(now + gcra.toleranceMs + gcra.intervalMs + ITEM_LIFE_MS))}`,
  ];
  const conditions: string[] = [];
  if (branch === 'fresh') {
    set.push(`${tat} = ${e.value(num(now + gcra.intervalMs))}`);
    conditions.push(`(attribute_not_exists(${tat}) OR ${tat} < ${e.value(num(now))})`);
  } else {
    set.push(`${tat} = ${tat} + ${e.value(num(gcra.intervalMs))}`);
    conditions.push(`${tat} BETWEEN ${e.value(num(now))} AND ${e.value(num(now + gcra.toleranceMs))}`);
  }
  if (window) {
    const path = e.name(windowAttribute(window.key));
    const until = e.value(num(window.until));
    set.push(`${path} = ${until}`);
    if (window.holder !== undefined)
      set.push(`${e.name(windowAttribute(holderKey(window.key, window.holder)))} = ${until}`);
    conditions.push(`(attribute_not_exists(${path}) OR ${path} < ${e.value(num(now))})`);
  }
  if (update.method !== undefined) {
    const hold = e.name(holdAttribute(update.method));
    conditions.push(`(attribute_not_exists(${hold}) OR ${hold} <= ${e.value(num(now))})`);
  }
  // Never one this write sets: a path may appear once in an update.
  const setting = window
    ? [window.key, ...(window.holder === undefined ? [] : [holderKey(window.key, window.holder)])]
    : [];
  const pruned = (update.lapsed ?? []).filter((key) => !setting.includes(key)).slice(0, MAX_PRUNED);
  const remove = pruned.map((key) => e.name(windowAttribute(key)));
  const lapsedBy = pruned.length > 0 ? e.value(num(now)) : '';
  for (const path of remove) conditions.push(`(attribute_not_exists(${path}) OR ${path} < ${lapsedBy})`);
  return {
    TableName: update.tableName,
    Key: { id: str(ITEM_ID.budget(update.budgetKey)) },
    UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: e.names,
    ExpressionAttributeValues: e.values,
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * Beside each window opened for a request that named its holder, an entry saying whose it is (same end time), so
 * a copy of that request can tell the window is its own. It lapses and is pruned like the window.
 */
export const holderKey = (key: string, holder: string) => `${key}|held-by|${holder}`;

/**
 * Makes a window a copy of this request opened this container's own (a new end time), so the copy handing its
 * slot back leaves it in place. Only if it is still the copy's window.
 */
export function windowTakeover(
  tableName: string,
  budgetKey: string,
  window: { key: string; holder: string; theirs: number; until: number },
) {
  return {
    TableName: tableName,
    Key: { id: str(ITEM_ID.budget(budgetKey)) },
    UpdateExpression: 'SET #window = :until, #holder = :until',
    ConditionExpression: '#window = :theirs',
    ExpressionAttributeNames: {
      '#window': windowAttribute(window.key),
      '#holder': windowAttribute(holderKey(window.key, window.holder)),
    },
    ExpressionAttributeValues: { ':until': num(window.until), ':theirs': num(window.theirs) },
  } satisfies UpdateItemCommandInput;
}

/** Closes one typing window, only if it is still the one this container opened (same end time). */
export function windowRemoval(tableName: string, budgetKey: string, window: { key: string; until: number }) {
  return {
    TableName: tableName,
    Key: { id: str(ITEM_ID.budget(budgetKey)) },
    UpdateExpression: 'REMOVE #window',
    ConditionExpression: '#window = :until',
    ExpressionAttributeNames: { '#window': windowAttribute(window.key) },
    ExpressionAttributeValues: { ':until': num(window.until) },
  } satisfies UpdateItemCommandInput;
}

/**
 * Built once per container. The SDK reads AWS_ENDPOINT_URL_DYNAMODB, so an emulator needs nothing here. One
 * retry at most, and socket timeouts as short as the call's: a state call sits on the request's critical path,
 * and the fail-over answers from memory when DynamoDB cannot.
 */
export function createStateClient(callTimeoutMs: number, endpoint?: string): DynamoDBClient {
  return new DynamoDBClient({
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: callTimeoutMs, requestTimeout: callTimeoutMs },
  });
}

export class StateCallTimeout extends Error {
  override readonly name = 'StateCallTimeout';
}

/**
 * Runs one call with an abort signal that fires after `timeoutMs`, and stops waiting then even if the call
 * does not notice the signal.
 */
export async function bounded<T>(timeoutMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new StateCallTimeout(`no answer within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), expiry]);
  } finally {
    clearTimeout(timer);
  }
}
