/**
 * Hooks around a real store's next write, for outage tests: pause Redis just as the write is
 * sent, or lose the reply of a write that landed. No behaviour of Redis is imitated: the write
 * goes to the real server either way.
 */
import type { RedisStore } from '../../src/store/redis/store.js';
import { StoreUnavailableError, type WriteOp } from '../../src/store/store.js';

export class WriteHooks {
  /** Called once, just before the next write that `counts` is sent to the real Redis, then cleared. */
  pauseAtNextWrite: (() => void) | null = null;
  /** Once: the next write reaches Redis and is applied, but its reply is lost on the way back. */
  loseNextReply = false;

  /** `counts`: which writes the pause waits for (by default, any). */
  constructor(private readonly counts: (ops: readonly WriteOp[]) => boolean = () => true) {}

  /** The same store, with these hooks around its writes. */
  wrap(store: RedisStore): RedisStore {
    return new Proxy(store, {
      get: (target, prop) => {
        if (prop === 'apply')
          return (...args: Parameters<RedisStore['apply']>) => {
            const hook = this.pauseAtNextWrite;
            if (hook && this.counts(args[0])) {
              this.pauseAtNextWrite = null;
              hook();
            }
            if (!this.loseNextReply) return target.apply(...args);
            this.loseNextReply = false;
            return target.apply(...args).then(() => {
              throw new StoreUnavailableError('the connection was lost before the reply (test)');
            });
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

/** Polls `check` every 100 ms for up to `ms`; whether it became true. */
export async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
