/**
 * Cross-origin hand-off: when the seller app lives on another origin than the relay, the
 * relay's cookie is useless to it. The callback then sends the browser to the app's
 * HANDOFF_URL with a one-time ticket, which the app trades server-to-server (with its API
 * key) for the session id. Tickets are random, single-use and live 60 s.
 */
import { randomBytes } from 'node:crypto';
import type { Keys } from '../store/keys.js';
import type { Store } from '../store/store.js';

export const TICKET_TTL_MS = 60_000;

export class Handoff {
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
  ) {}

  private key(ticket: string) {
    return `${this.keys.prefix}ticket:${ticket}`;
  }

  async issue(sid: string): Promise<string> {
    const ticket = randomBytes(32).toString('base64url');
    await this.store.apply([{ op: 'set', key: this.key(ticket), value: sid, ttlMs: TICKET_TTL_MS }]);
    return ticket;
  }

  /** The session id, once: a second redemption (or a lost race for it) gets null. */
  async redeem(ticket: string): Promise<string | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(ticket)) return null;
    const key = this.key(ticket);
    const sid = await this.store.get(key);
    if (!sid) return null;
    const taken = await this.store.apply([{ op: 'del', key }], { guards: [{ key, equals: sid }] });
    return taken === 'applied' ? sid : null;
  }
}
