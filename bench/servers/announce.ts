/** Child-process side of bench/children.ts: tell the parent our port, answer CPU-time queries, die with it. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function announce(server: Server | number): void {
  const port = typeof server === 'number' ? server : (server.address() as AddressInfo).port;
  if (!process.send) throw new Error('run this file through bench/children.ts (it needs an IPC channel)');
  process.send({ port });
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'cpu') process.send!({ cpu: process.cpuUsage() });
    // A normal exit, so that `--cpu-prof` writes its profile (a signal would not).
    if (message.cmd === 'exit') process.exit(0);
  });
  // The parent went away (finished, crashed or was killed): do not linger.
  process.on('disconnect', () => process.exit(0));
}
