/** Child-process side of bench/children.ts: tell the parent our port, answer CPU-time queries, die with it. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function announce(server: Server): void {
  const { port } = server.address() as AddressInfo;
  if (!process.send) throw new Error('run this file through bench/children.ts (it needs an IPC channel)');
  process.send({ port });
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
  // The parent went away (finished, crashed or was killed): do not linger.
  process.on('disconnect', () => process.exit(0));
}
