/**
 * The sample seller app on its own, for compose.yaml: `node --import tsx examples/seller-app/serve.ts`.
 * RELAY_API_URL is where it reaches the relays' session API privately (compose: nginx's private
 * listener, round robin over both relays), RELAY_API_KEY one of the relays' SELLER_API_KEYS.
 */
import { createSellerApp } from './app.js';

const relayApiUrl = process.env.RELAY_API_URL;
const relayApiKey = process.env.RELAY_API_KEY;
if (!relayApiUrl || !relayApiKey) {
  console.error('the sample app needs RELAY_API_URL and RELAY_API_KEY');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 8080);
const server = createSellerApp({ relayApiUrl, relayApiKey }).listen(port, process.env.HOST ?? '0.0.0.0', () =>
  console.warn(`sample seller app on port ${port}, relay API at ${relayApiUrl}`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
