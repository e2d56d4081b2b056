/**
 * The portal layer: the one place that joins the Bitrix24 wire protocol (`lib/bitrix24`) with secret storage
 * (`lib/secrets`). Stored portal credentials and typing keys, OAuth token rotation across containers, REST calls
 * on behalf of a stored portal, and the mapping of portal failures to the service's errors.
 */
export * from './credentials.js';
export * from './portal-credentials.js';
export * from './portal-client.js';
export * from './method-blocks.js';
export * from './renamed-portals.js';
export { parseTypingKeys } from './typing-keys.js';
export { rotateAccessToken } from './token-rotation.js';
export { DEFAULT_OPERATION_WAIT_SECONDS, upstreamFailure } from './upstream-errors.js';
