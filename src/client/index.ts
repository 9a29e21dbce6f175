/**
 * The integration kit for seller apps, published as its own package (packages/relay-client): a
 * typed client for the relay's `/api/v1`, an Express middleware and assertion verification. It
 * loads `jose` at run time and nothing of the relay; its types come from the relay's contract.
 */
export { RelayClient, RelayError } from './relayClient.js';
export type {
  AccessToken,
  AuthorizeAnswer,
  AuthorizeRequest,
  Department,
  RelayAssertionAnswer,
  RelayClientOptions,
  RelayInstance,
  RelayMirrorUser,
  RelaySession,
  RelayTenant,
  RelayUser,
  SessionRef,
  TicketRedemption,
} from './relayClient.js';
export { requireRelaySession } from './middleware.js';
export type { RequireRelaySessionOptions } from './middleware.js';
export { verifyRelayAssertion } from './assertion.js';
