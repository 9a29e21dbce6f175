/**
 * Where a rate limit counts: rate-limit-redis on the relay's Redis (a single server or a
 * cluster), so every relay sharing the store and its `REDIS_PREFIX` shares the counts; the
 * library's own memory store on the embedded store (local runs), which shares nothing.
 *
 * rate-limit-redis sends its commands through `sendCommandCluster`, which this module answers
 * with the relay's own connection (`Store.sendCommand`: the store's deadline, and on a cluster
 * the node of the key). Two of its habits are handled here rather than left to chance:
 *
 * - It loads its two scripts with `SCRIPT LOAD` when created, with no key, and keeps the
 *   promise of each SHA for ever. A relay starts before Redis answers (it connects in the
 *   background), and a rejected load would then fail every count until a restart; on a
 *   cluster a key-less command goes to one node only. So `SCRIPT LOAD` is answered here, with
 *   the script's SHA-1 (what Redis would answer), and nothing is sent.
 * - A server that does not know a script (new, restarted, flushed, or another node of the
 *   cluster) answers `EVALSHA` with NOSCRIPT; the command is then sent as `EVAL` with the
 *   script's text, to the same node, which also caches it there.
 *
 * Each key holds one counter and expires with its window, so a cluster needs no hash tags.
 */
import { createHash } from 'node:crypto';
import { MemoryStore, type Store as CounterStore } from 'express-rate-limit';
import { RedisStore, type RedisReply, type SendCommandClusterDetails } from 'rate-limit-redis';
import type { Store } from '../store/store.js';

export type { CounterStore };

/** `prefix`: where the limit's counters live (`Keys.rateLimit`). */
export function counterStore(store: Store, prefix: string): CounterStore {
  const send = store.sendCommand?.bind(store);
  if (!send) return new MemoryStore();
  return new RedisStore({ prefix, sendCommandCluster: redisCommands(send) });
}

type Send = NonNullable<Store['sendCommand']>;

/** rate-limit-redis's commands over the relay's connection (see above). */
function redisCommands(send: Send): (details: SendCommandClusterDetails) => Promise<RedisReply> {
  const scripts = new Map<string, string>();
  return async ({ key, isReadOnly, command }) => {
    const [name, ...args] = command;
    if (name?.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
      const sha = createHash('sha1').update(args[1]).digest('hex');
      scripts.set(sha, args[1]);
      return sha;
    }
    try {
      return (await send(key, isReadOnly, command)) as RedisReply;
    } catch (error) {
      const text = name?.toUpperCase() === 'EVALSHA' ? scripts.get(args[0] ?? '') : undefined;
      if (text === undefined || !/NOSCRIPT/.test(messages(error))) throw error;
      return (await send(key, isReadOnly, ['EVAL', text, ...args.slice(1)])) as RedisReply;
    }
  };
}

/** An error's message and its causes' (the store wraps the server's reply in its own error). */
function messages(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) parts.push(e.message);
  return parts.join(' | ');
}
