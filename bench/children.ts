/**
 * Servers under load run in child processes (node --import tsx), so the load generator in this
 * process does not share their event loop. Every child is killed when this process exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const running = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ChildServer {
  name: string;
  pid: number;
  url: string;
  /** CPU time the server process has used so far, in ms (user + system) */
  cpuMs: () => Promise<number>;
  stop: () => Promise<void>;
}

/** Starts `bench/servers/<file>` with `env`; resolves once it listens and has told us its port. */
export function startServer(
  name: string,
  file: string,
  env: Record<string, string | undefined>,
): Promise<ChildServer> {
  const path = fileURLToPath(new URL(`./servers/${file}`, import.meta.url));
  const child = fork(path, [], {
    execArgv: ['--import', 'tsx'],
    env: env as NodeJS.ProcessEnv,
    // stdout (the relay's logs) to /dev/null, stderr shown, plus the IPC channel for the port.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };

  const cpuMs = () =>
    new Promise<number>((resolve) => {
      child.once('message', (message: { cpu?: NodeJS.CpuUsage }) =>
        resolve(((message.cpu?.user ?? 0) + (message.cpu?.system ?? 0)) / 1000),
      );
      child.send({ cmd: 'cpu' });
    });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start within 20 s`));
    }, 20_000);
    child.once('message', (message: { port?: number }) => {
      clearTimeout(timer);
      resolve({ name, pid: child.pid!, url: `http://127.0.0.1:${message.port}`, cpuMs, stop });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal})`));
    });
  });
}
