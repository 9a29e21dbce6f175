/** Test doubles around the embedded store, for behaviour a real store shows only under load. */
import { MemoryStore } from '../../src/store/memory.js';
import {
  CrossSlotError,
  StoreUnavailableError,
  type ApplyOptions,
  type ApplyResult,
  type Store,
  type WriteOp,
} from '../../src/store/store.js';

const slotOf = (key: string) => /\{([^}]*)\}/.exec(key)?.[1] ?? key;

/**
 * The embedded store, optionally slot by slot as a Redis Cluster writes (`atomicAcrossSlots`
 * false, a write spanning two slots refused as CROSSSLOT), with hooks to fail the next write to
 * a tenant's slot or to run something just before the next write that matches.
 */
export class InstrumentedStore extends MemoryStore {
  override atomicAcrossSlots: boolean;
  /** Claims to write across slots, then refuses the first such write, as a proxied cluster does. */
  private readonly proxied: boolean;
  failNextTenantWrite = false;
  readonly slotsPerApply: number[] = [];
  private hooks: { when: (ops: readonly WriteOp[]) => boolean; run: () => Promise<void> }[] = [];

  constructor(options: { slotBySlot?: boolean; proxiedCluster?: boolean } = {}) {
    super();
    this.atomicAcrossSlots = !options.slotBySlot;
    this.proxied = options.proxiedCluster ?? false;
  }

  /** Runs `run` once, just before the first later write for which `when` holds. */
  beforeApply(when: (ops: readonly WriteOp[]) => boolean, run: () => Promise<void>): void {
    this.hooks.push({ when, run });
  }

  override async apply(ops: readonly WriteOp[], options?: ApplyOptions): Promise<ApplyResult> {
    const hook = this.hooks.find((h) => h.when(ops));
    if (hook) {
      this.hooks = this.hooks.filter((h) => h !== hook);
      await hook.run();
    }
    const slots = new Set(
      [...ops.map((o) => o.key), ...(options?.guards ?? []).map((g) => g.key)].map(slotOf),
    );
    this.slotsPerApply.push(slots.size);
    if (slots.size > 1 && this.proxied) {
      this.atomicAcrossSlots = false;
      throw new CrossSlotError('CROSSSLOT Keys in request do not hash to the same slot (test)');
    }
    if (!this.atomicAcrossSlots && slots.size > 1)
      throw new Error(`CROSSSLOT: one write spans ${[...slots].join(', ')}`);
    if (this.failNextTenantWrite && [...slots].some((s) => s.startsWith('t:'))) {
      this.failNextTenantWrite = false;
      throw new StoreUnavailableError('store failed between the slots (test)');
    }
    return super.apply(ops, options);
  }
}

/**
 * Watches a store's writes, a real Redis included, without changing one: `outcomes` counts what
 * the store answered (`conflict`: an optimistic write that lost to another and was decided again,
 * mirror/transaction.ts). `gather(count, when)` holds the next `count` writes for which `when`
 * holds until all of them are there, then sends them together, so writers that read the same
 * state really race and the store decides which one wins (released after 2 s regardless).
 */
export function watchApplies(store: Store): {
  outcomes: Record<ApplyResult, number>;
  gather: (count: number, when: (ops: readonly WriteOp[]) => boolean) => void;
} {
  const outcomes: Record<ApplyResult, number> = { applied: 0, conflict: 0 };
  let gate: { count: number; when: (ops: readonly WriteOp[]) => boolean; held: (() => void)[] } | null = null;
  const release = (g: NonNullable<typeof gate>) => {
    if (gate === g) gate = null;
    for (const go of g.held.splice(0)) go();
  };
  const apply = store.apply.bind(store);
  store.apply = async (ops, options) => {
    const g = gate;
    if (g?.when(ops))
      await new Promise<void>((go) => {
        g.held.push(go);
        if (g.held.length === g.count) release(g);
        else if (g.held.length === 1) setTimeout(() => release(g), 2000).unref();
      });
    const outcome = await apply(ops, options);
    outcomes[outcome]++;
    return outcome;
  };
  return {
    outcomes,
    gather: (count, when) => {
      gate = { count, when, held: [] };
    },
  };
}
