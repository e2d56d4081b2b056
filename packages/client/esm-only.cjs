// The package is ESM only: say so instead of failing somewhere inside it.
throw new Error(
  'bitrix24-typing-client is an ES module: import it (import { createTypingClient } from "bitrix24-typing-client"), ' +
    'or from CommonJS use await import("bitrix24-typing-client").',
);
