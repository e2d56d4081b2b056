/**
 * Part of the HTTP contract, shared by the service and its typed client (which ships it in its package).
 * What the indicator says. `typing` is the plain "typing..." (the default); the others are the platform's agent
 * statuses ("Agent is thinking..."), shown by bots of the chat-bot API v2. A v1 bot shows plain typing for any.
 */
export const TYPING_STATUSES = [
  'typing',
  'thinking',
  'searching',
  'generating',
  'analyzing',
  'processing',
  'translating',
  'connecting',
  'checking',
  'calculating',
  'reading_docs',
  'composing',
] as const;

export type TypingStatus = (typeof TYPING_STATUSES)[number];
