/**
 * The demo's stand-in for the seller's reverse proxy (nginx, an ingress): one public origin,
 * where `/sso/*`, `/produceAPI/*` and `/.well-known/*` go to the relay and the rest to the app.
 * This is the deployment the README recommends; the relay's seller API stays private.
 */
import { createServer, request, type Server } from 'node:http';

export function startProxy(
  port: number,
  routes: { relay: string; app: string },
  host = '127.0.0.1',
): Promise<Server> {
  const relay = new URL(routes.relay);
  const app = new URL(routes.app);
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const target = /^\/(sso|produceAPI|produceapi|\.well-known)(\/|$)/.test(path) ? relay : app;
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
