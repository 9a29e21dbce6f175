/**
 * Hooks around a real store's next write, for outage tests: pause Redis just as the write is
 * sent, or lose the reply of a write that landed. No behaviour of Redis is imitated: the write
 * goes to the real server either way.
 */
import { RedisStore } from '../../src/store/redis/store.js';
import { StoreUnavailableError, type WriteOp } from '../../src/store/store.js';
import { tenantFields } from './data.js';
import { RedisProcess } from './redis.js';
import { startRelay, type TestRelay } from './relay.js';

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

/** A relay on a redis-server of its own, its writes through `hooks`, with `tenantId` pushed. */
export interface OutageWorld {
  redis: RedisProcess;
  store: RedisStore;
  t: TestRelay;
  close: () => Promise<void>;
}

/**
 * The outage tests' world: short store and kit deadlines (400 ms, 1,200 ms), so a paused Redis
 * answers 000005 quickly, and one tenant already in the mirror.
 */
export async function startOutageWorld(hooks: WriteHooks, tenantId: string): Promise<OutageWorld> {
  const redis = await RedisProcess.start();
  const store = RedisStore.connect({ url: redis.url }, { timeoutMs: 400 });
  await store.ready();
  const t = await startRelay({ store: hooks.wrap(store), env: { KIT_DEADLINE_MS: '1200' } });
  const r = await t.pusher.tenantSync(tenantFields(tenantId));
  if (r.resultCode !== '000000') throw new Error(`tenantSync answered ${r.resultCode}`);
  return {
    redis,
    store,
    t,
    close: async () => {
      await t.close();
      await store.close();
      await redis.stop();
    },
  };
}
