/**
 * Servers under load run in child processes (node --import tsx), so the load generator in this
 * process does not share their event loop. Every child is killed when this process exits.
 * `startServer` runs a file of bench/servers; `startRelayProcess` runs the relay's own entry
 * point, src/main.ts, for the fault script and the soak.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { productionNodeFlags } from '../test/support/startCommand.js';

/**
 * Where the servers' stdout goes: one file per server, as production redirects the relay's log
 * lines (pino writes them to stdout). A pipe read by this process, or /dev/null, would cost the
 * server less or more than a real file does.
 */
export const LOG_DIR = fileURLToPath(
  new URL(
    import.meta.url.endsWith('.js') ? '../../../bench/results/logs/' : './results/logs/',
    import.meta.url,
  ),
);

/** A file of LOG_DIR for `name`'s stdout, emptied; its descriptor is the caller's to close. */
export function logFile(name: string): { path: string; fd: number } {
  mkdirSync(LOG_DIR, { recursive: true });
  const path = `${LOG_DIR}${name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, '')}.log`;
  return { path, fd: openSync(path, 'w') };
}

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
  /** the file its stdout (the relay's log lines) is written to */
  stdoutFile: string;
}

/**
 * Starts bench/servers/relay.ts with `env`, under the node flags production starts the relay with
 * (`npm start`, the image's CMD), then `execArgv`.
 */
export const startRelayServer = (
  name: string,
  env: Record<string, string | undefined>,
  execArgv: string[] = [],
): Promise<ChildServer> =>
  startServer(name, 'relay.ts', env, { execArgv: [...productionNodeFlags(), ...execArgv] });

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
  const stdout = logFile(name);
  const child = fork(path, [], {
    execArgv: [...(compiled ? [] : ['--import', 'tsx']), ...(options.execArgv ?? [])],
    env: env as NodeJS.ProcessEnv,
    // stdout (the relay's logs) to a file of its own, stderr shown, plus the IPC channel for the port.
    stdio: ['ignore', stdout.fd, 'inherit', 'ipc'],
  });
  // The child has its own copy of the descriptor.
  closeSync(stdout.fd);
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
      resolve({
        name,
        pid: child.pid!,
        url: `http://127.0.0.1:${message.port}`,
        cpuMs,
        cpu,
        stop,
        exit,
        stdoutFile: stdout.path,
      });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal})`));
    });
  });
}

/** A relay process started from its real entry point, src/main.ts (compiled, or through tsx). */
export interface RelayProcess {
  name: string;
  pid: number;
  port: number;
  url: string;
  /** its last log lines (pino JSON on stdout, anything on stderr), newest last */
  logs: () => string[];
  /** whether it has exited (by itself or by a signal) */
  exited: () => boolean;
  /** sends `signal` (SIGKILL unless told) and waits for the exit */
  kill: (signal?: NodeJS.Signals) => Promise<void>;
  /** SIGTERM, the relay's own drain (main.ts), SIGKILL after 10 s */
  stop: () => Promise<void>;
  /** sends a signal and returns at once (false when it has exited) */
  signal: (signal: NodeJS.Signals) => boolean;
}

/**
 * Starts `src/main.ts` as production runs it (`npm start`: node with its flags, then `nodeArgs`;
 * the entry point from the compiled tree of `npm run bench`, or the source through tsx),
 * configured by `env` alone, listening on `port` at 127.0.0.1; resolves once `/healthz` answers.
 * Its output is kept in memory (the last `keepLines` lines), not shown.
 */
export async function startRelayProcess(
  name: string,
  port: number,
  env: Record<string, string | undefined>,
  options: { keepLines?: number; nodeArgs?: string[] } = {},
): Promise<RelayProcess> {
  const compiled = import.meta.url.endsWith('.js');
  const main = fileURLToPath(new URL(`../src/main.${compiled ? 'js' : 'ts'}`, import.meta.url));
  const args = [
    ...(compiled ? [] : ['--import', 'tsx']),
    ...productionNodeFlags(),
    ...(options.nodeArgs ?? []),
    main,
  ];
  const child = spawn(process.execPath, args, {
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const keep = options.keepLines ?? 200;
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop()!;
      lines.push(...parts.filter(Boolean));
      if (lines.length > keep) lines.splice(0, lines.length - keep);
    });
  }
  const isExited = () => child.exitCode !== null || child.signalCode !== null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (isExited()) return;
    child.kill(signal);
    await exited;
  };
  const relay: RelayProcess = {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    logs: () => [...lines],
    exited: isExited,
    signal: (signal) => !isExited() && child.kill(signal),
    kill,
    stop: async () => {
      if (isExited()) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (isExited()) throw new Error(`${name} exited before listening:\n${lines.slice(-10).join('\n')}`);
    try {
      const r = await fetch(`${relay.url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return relay;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await kill();
  throw new Error(`${name} did not answer /healthz within 20 s:\n${lines.slice(-10).join('\n')}`);
}
