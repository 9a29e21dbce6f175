/** The sandbox as one HTTP server: unified login, tenant identity servers, workbench. */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { identityServer, type IdentityServer } from './identity.js';
import type { SandboxWorld } from './world.js';

export interface RunningSandbox {
  url: string;
  world: SandboxWorld;
  identity: IdentityServer;
  close: () => Promise<void>;
}

export async function startSandbox(
  world: SandboxWorld,
  options: { port?: number; host?: string } = {},
): Promise<RunningSandbox> {
  const app = express();
  app.set('etag', false);
  const identity = identityServer(world);
  app.use(identity.router);
  const server = app.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const url = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  world.baseUrl = url;
  return {
    url,
    world,
    identity,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
