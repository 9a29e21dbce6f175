/**
 * Writing the change feed (contract §5b). Every change of the mirror and every session start or
 * end appends its events as operations of the very write that makes the change, so the two land
 * together or not at all: a repeated or stale push plans no write, and so no event.
 *
 * Where one write may span slots (the embedded store, a single Redis server) the events go
 * straight to the feed's stream. On a Redis Cluster a write stays in one slot, so its events go
 * to that slot's outbox and are moved to the stream right after (outbox.ts).
 */
import type { Keys } from '../store/keys.js';
import type { Store, WriteOp } from '../store/store.js';
import type { EventType, SessionEndReason } from '../vocabulary.js';

/** Whose slot the change is written in: a tenant's, or the instances' (`{inst}`). */
export type EventSlot = { tenantId: string } | 'instances';

/** An event as stored: the API adds its `id`, the stream entry's. */
export interface StoredEvent {
  type: EventType;
  occurredAt: string;
  tenantId: string | null;
  data: object;
}

export interface EventLogOptions {
  store: Store;
  keys: Keys;
  now: () => number;
  /**
   * How session events name a session: its fingerprint (sso/sessions.ts), the `sid` claim of the
   * relay's assertions too, never the session id itself, which would let a reader act as the user.
   */
  sessionRef: (sid: string) => string;
}

/**
 * An event's `data` already printed as JSON, by a change that printed it anyway (a user's record:
 * records.ts encodeUser), so a push of thousands of users does not print each one twice.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

export class EventLog {
  constructor(private readonly o: EventLogOptions) {}
  /** The last time printed: the events of one change share it. */
  private printed = { at: NaN, iso: '' };

  /** The operation that appends one event, for the write that makes its change. */
  append(slot: EventSlot, type: EventType, tenantId: string | null, data: object | JsonText): WriteOp {
    const { store, keys, now } = this.o;
    const at = now();
    if (this.printed.at !== at) this.printed = { at, iso: new Date(at).toISOString() };
    // A StoredEvent, printed as JSON.stringify prints it, member by member.
    const value = `{"type":${JSON.stringify(type)},"occurredAt":"${this.printed.iso}","tenantId":${JSON.stringify(tenantId)},"data":${data instanceof JsonText ? data.text : JSON.stringify(data)}}`;
    if (store.atomicAcrossSlots) return { op: 'xadd', key: keys.events(), value };
    const key = slot === 'instances' ? keys.instanceOutbox() : keys.tenantOutbox(slot.tenantId);
    return { op: 'xadd', key, value };
  }

  /** A session's start or end, in its tenant's slot, naming the session by its fingerprint only. */
  session(
    sid: string,
    login: { tenantId: string; appId: string; userName: string; instanceId?: string | undefined },
    ended?: SessionEndReason,
  ): WriteOp {
    const { tenantId, appId, userName } = login;
    const data = {
      appId,
      userName,
      sessionRef: this.o.sessionRef(sid),
      // a tenant with no instance signs in with '' (as `GET /session` says, null)
      ...(ended ? { reason: ended } : { instanceId: login.instanceId || null }),
    };
    return this.append({ tenantId }, ended ? 'session.ended' : 'session.started', tenantId, data);
  }
}
