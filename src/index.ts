/**
 * The integration kit for seller apps: a typed client for the relay's `/api/v1` and an Express
 * middleware. (The relay itself runs from `dist/main.js`.)
 */
export { RelayClient, RelayError } from './client/relayClient.js';
export type {
  AccessToken,
  AuthorizeAnswer,
  Department,
  RelayClientOptions,
  RelaySession,
  RelayUser,
  SessionRef,
} from './client/relayClient.js';
export { requireRelaySession } from './client/middleware.js';
export type { RequireRelaySessionOptions } from './client/middleware.js';
export { verifyRelayAssertion } from './client/assertion.js';
