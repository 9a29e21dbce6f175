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
  /** the same, split: user (JavaScript, V8, libuv) and system (the kernel: sockets, syscalls) */
  cpu: () => Promise<{ user: number; system: number }>;
  stop: () => Promise<void>;
  /** Asks the child to exit normally (so `--cpu-prof` writes its profile), then waits for it. */
  exit: () => Promise<void>;
}

/** Starts `bench/servers/<file>` with `env`; resolves once it listens and has told us its port. */
export function startServer(
  name: string,
  file: string,
  env: Record<string, string | undefined>,
  options: { execArgv?: string[] } = {},
): Promise<ChildServer> {
  // Compiled (npm run bench): fork the compiled server; from source: through tsx.
  const compiled = import.meta.url.endsWith('.js');
  const path = fileURLToPath(
    new URL(`./servers/${compiled ? file.replace(/\.ts$/, '.js') : file}`, import.meta.url),
  );
  const child = fork(path, [], {
    execArgv: [...(compiled ? [] : ['--import', 'tsx']), ...(options.execArgv ?? [])],
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

  const exit = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.send({ cmd: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const cpu = () =>
    new Promise<{ user: number; system: number }>((resolve) => {
      child.once('message', (message: { cpu?: NodeJS.CpuUsage }) =>
        resolve({ user: (message.cpu?.user ?? 0) / 1000, system: (message.cpu?.system ?? 0) / 1000 }),
      );
      child.send({ cmd: 'cpu' });
    });
  const cpuMs = async () => {
    const { user, system } = await cpu();
    return user + system;
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start within 20 s`));
    }, 20_000);
    child.once('message', (message: { port?: number }) => {
      clearTimeout(timer);
      resolve({ name, pid: child.pid!, url: `http://127.0.0.1:${message.port}`, cpuMs, cpu, stop, exit });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal})`));
    });
  });
}
