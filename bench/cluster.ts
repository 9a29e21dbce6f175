/**
 * `npm run cluster -- up|down|status`: a local Redis Cluster to run the relay against, six
 * `redis-server` nodes on loopback (three masters, a replica each) in a temporary directory.
 *
 *   up      starts it (free ports, cluster-node-timeout 5 s) and prints the REDIS_CLUSTER_NODES to use
 *   status  prints each node's role, state and slots, from CLUSTER NODES
 *   down    stops the nodes and removes the directory
 *
 * The nodes outlive the command; what `down` and `status` need (ports, process ids) is kept in
 * the directory's `cluster.json`. The same RedisCluster as the tests' (test/support/redis.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { RedisCluster } from '../test/support/redis.js';

const DIR = process.env.RELAY_CLUSTER_DIR ?? join(tmpdir(), `relay-local-cluster-${userInfo().uid}`);
const STATE = join(DIR, 'cluster.json');
const say = (line: string) => process.stdout.write(`${line}\n`);

interface State {
  nodes: string[];
  pids: Record<string, number>;
  started: string;
}

function readState(): State | null {
  return existsSync(STATE) ? (JSON.parse(readFileSync(STATE, 'utf8')) as State) : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function up(): Promise<void> {
  const state = readState();
  if (state && Object.values(state.pids).some(alive)) {
    say(`already running (${DIR}); \`npm run cluster -- down\` stops it`);
    say(`REDIS_CLUSTER_NODES=${state.nodes.join(',')}`);
    return;
  }
  rmSync(DIR, { recursive: true, force: true });
  const cluster = await RedisCluster.prepare({
    masters: 3,
    replicas: 1,
    nodeTimeoutMs: 5000,
    dir: DIR,
    detached: true,
  });
  try {
    await cluster.start();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const saved: State = { nodes: cluster.nodes, pids: cluster.pids, started: new Date().toISOString() };
  writeFileSync(STATE, `${JSON.stringify(saved, null, 2)}\n`);
  say(`a Redis Cluster of 6 nodes (3 masters, 3 replicas) in ${DIR}`);
  say(`REDIS_CLUSTER_NODES=${cluster.nodes.join(',')}`);
}

function status(): void {
  const state = readState();
  if (!state) {
    say(`not running (no ${STATE})`);
    process.exitCode = 1;
    return;
  }
  const running = Object.entries(state.pids).filter(([, pid]) => alive(pid));
  say(`${running.length} of ${state.nodes.length} nodes running, in ${DIR}`);
  say(`REDIS_CLUSTER_NODES=${state.nodes.join(',')}`);
  const [port] = running[0] ?? [];
  if (!port) return;
  const nodes = spawnSync('redis-cli', ['-p', port, 'cluster', 'nodes'], { encoding: 'utf8' });
  // <id> <ip:port@bus> <flags> <master id> <ping> <pong> <epoch> <link> <slots…>
  const lines = nodes.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  const address = (id: string) => lines.find((l) => l[0] === id)?.[1]?.split('@')[0] ?? id;
  for (const [id, , flags, master, , , , link, ...slots] of lines.sort((a, b) =>
    a[1]!.localeCompare(b[1]!),
  )) {
    const role = flags!.replace('myself,', '').replace('slave', 'replica');
    const of = master && master !== '-' ? `of ${address(master)}` : slots.join(' ');
    say(`  ${address(id!)}  ${role.padEnd(12)} ${link!.padEnd(10)} ${of}`);
  }
}

function down(): void {
  const state = readState();
  for (const pid of Object.values(state?.pids ?? {}))
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  rmSync(DIR, { recursive: true, force: true });
  say(state ? `stopped ${Object.keys(state.pids).length} nodes, removed ${DIR}` : 'not running');
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') down();
else if (command === 'status') status();
else {
  console.error('usage: npm run cluster -- up|down|status');
  process.exitCode = 2;
}
