/**
 * The demo's stand-in for the seller's reverse proxy (nginx, an ingress): one public origin,
 * where `/sso/*`, the production address (`PRODUCE_BASE_PATH`, which the basic interfaces POST
 * to and the kit interfaces extend with `/produceAPI/…`) and `/.well-known/*` go to the relay,
 * and the rest to the app.
 * This is the deployment the README recommends; the relay's seller API stays private.
 */
import { createServer, request, type Server } from 'node:http';

export function startProxy(
  port: number,
  routes: { relay: string; app: string; produceBasePath: string },
  host = '127.0.0.1',
): Promise<Server> {
  const relay = new URL(routes.relay);
  const app = new URL(routes.app);
  const produce = routes.produceBasePath;
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const toRelay =
      /^\/(sso|\.well-known)(\/|$)/.test(path) ||
      path === produce ||
      path.startsWith(`${produce}/`) ||
      path.startsWith(`${produce}?`);
    const target = toRelay ? relay : app;
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path,
        headers: { ...req.headers, 'x-forwarded-proto': 'http', 'x-forwarded-host': req.headers.host ?? '' },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('upstream unavailable');
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
