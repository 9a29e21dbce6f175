/**
 * The integration kit for seller apps, published as its own package (packages/relay-client): a
 * typed client for the relay's `/api/v1` (the change feed included), an Express middleware,
 * assertion verification and webhook verification. It loads `jose` and `standardwebhooks` at run
 * time and nothing of the relay; its types come from the relay's contract.
 */
export { CursorExpiredError, RelayClient, RelayError } from './relayClient.js';
export type {
  AccessToken,
  AuthorizeAnswer,
  AuthorizeRequest,
  Department,
  RelayAssertionAnswer,
  RelayClientOptions,
  RelayEvent,
  RelayEventPage,
  RelayEventsOptions,
  RelayEventType,
  RelayFeedItem,
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
export { relayWebhook, RelayWebhookError, verifyRelayWebhook } from './webhook.js';
export type { RelayWebhookOptions, RelayWebhookRequest } from './webhook.js';
