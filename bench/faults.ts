/**
 * `npm run faults`: the relay's two promises, checked while its dependencies fail.
 *
 *   1. No push answered 000000 is lost: once the fault heals, every acknowledged push's effect
 *      is in the mirror (read back through /api/v1/authorize and /api/v1/tenants).
 *   2. No session outlives its revocation: once a push that removes, de-authorizes or disables
 *      a user, or deletes a tenant, is answered 000000, GET /api/v1/session for each of their
 *      sessions answers 401 no_session (checked at once, and again after the fault).
 *
 * A real relay process (src/main.ts, configured by the environment) runs against a private
 * redis-server (append-only file, fsync always) behind a fault proxy, with the sandbox as the
 * marketplace (signed pushes) and as the tenants' identity servers (behind a second proxy).
 * Each case provisions two fresh tenants, signs their users in, then for a few seconds sends
 * pushes (new users, three user revocations, a tenant deletion), session reads, authorizations,
 * token renewals and sign-ins while the fault is on. It heals the fault, resends every push
 * that was not acknowledged (a new nonce, as the marketplace retries) and checks.
 *
 * A case fails on a lost push, a session outliving its revocation, a 5xx the documents do not
 * promise for the outage (docs/faults.md), a session that neither works nor asks cleanly for a
 * new sign-in, a session left out of its user's index (revocation could not find it), or a
 * relay that does not serve again after the fault. Exit status 1 when any case fails.
 *
 *   npm run faults [-- --case redis-pause,idp-down] [--window SECONDS]
 */
import type { PushResult } from '../src/sandbox/pusher.js';
import { decodeSessionRecord } from '../src/sso/sessionCookie.js';
import { Keys } from '../src/store/keys.js';
import { APP_ID } from '../test/support/fixtures.js';
import { httpAnswer } from './faultProxy.js';
import {
  addTenant,
  runScript,
  documented5xx,
  progress,
  say,
  sellerApi,
  sleep,
  startWorld,
  stopOnSignals,
  table,
  Tally,
  waitReady,
  type Answer,
  type World,
} from './harness.js';
import { attemptSignIn } from './world.js';

const log = progress('faults');

/** The relay's deadline for each identity-server call: shorter than the default 5 s, so slow cases end sooner. */
const IDP_TIMEOUT_MS = 2000;

// ---- what a case sends and what it saw ----

type PushKind = 'add' | 'revoke' | 'delete-tenant';

interface TrackedPush {
  label: string;
  kind: PushKind;
  tenantId: string;
  userName?: string;
  /** the same body every time (its timeStamp fixed), with a new nonce: a marketplace retry */
  send: () => Promise<PushResult>;
  /** each attempt's resultCode, `HTTP <status>` or `no answer` */
  answers: string[];
  acked: boolean;
}

interface TrackedSession {
  userName: string;
  tenantId: string;
  cookie: string;
  /** the push that revoked it, once answered 000000 */
  revokedBy?: TrackedPush;
  /** the relay answered a token request `reauthenticate`: the session must stay ended */
  toldToReauthenticate?: boolean;
}

class CaseRun {
  readonly pushes: TrackedPush[] = [];
  readonly sessions: TrackedSession[] = [];
  /** 5xx answers the documents promise for the outage, and the others */
  documented = 0;
  readonly unexpected = new Tally();
  /** requests that got no answer at all, while the fault was on / after it healed */
  readonly noAnswer = { fault: 0, after: 0 };
  /** true while the fault is on (and until the relay answers /readyz again) */
  faultOn = true;
  /** the outage answers the documents promise for this case's fault */
  outage: Outage = 'none';
  /** acknowledged pushes whose effect is not in the mirror after the fault */
  readonly lost: string[] = [];
  readonly outliving: string[] = [];
  readonly problems: string[] = [];
  readonly signIns = new Tally();
  readonly renewals = new Tally();
  readonly sessionReads = new Tally();
  /** sign-ins refused, yet answered with a session cookie */
  readonly refusedWithCookie: { status: number; userName: string; cookie: string }[] = [];
  /** pushes answered only 000005 that had been applied nevertheless (the write's answer was lost) */
  refusedYetApplied = 0;
  /** pushes sent without an answer (the relay died) that had been applied */
  appliedUnanswered = 0;
  /** after the fault: sessions renewed by a forced renewal, and sessions ended cleanly (reauthenticate) */
  renewedAfter = 0;
  ended = 0;
  private pushCount = 0;

  constructor(
    readonly w: World,
    readonly name: string,
  ) {}

  get relay(): string {
    return this.w.publicUrl;
  }

  /** Judges one answer of the relay (5xx and no-answer accounting) and passes it on. */
  record(route: string, a: Answer): Answer {
    if (a.status === 0) {
      this.noAnswer[this.faultOn ? 'fault' : 'after']++;
      return a;
    }
    if (a.status >= 500) {
      const outage = documented5xx(a);
      if (this.faultOn && outage !== 'none' && outage === this.outage) this.documented++;
      else this.unexpected.add(`${route} ${a.status} ${a.error ?? a.contentType.split(';')[0]}`);
    }
    return a;
  }

  private track(push: Omit<TrackedPush, 'answers' | 'acked'>): TrackedPush {
    const tracked = { ...push, answers: [], acked: false };
    this.pushes.push(tracked);
    return tracked;
  }

  /** authSync flag 1 of a new user: its effect is that the user is allowed. */
  addUser(tenantId: string): TrackedPush {
    const userName = `${this.name}-new${String(++this.pushCount).padStart(3, '0')}`;
    const timeStamp = this.w.pusher.nextSyncTime();
    const fields = {
      instanceId: '',
      tenantId,
      appId: APP_ID,
      userList: [{ userName, name: userName, orgCode: 'hq', role: 'user', enable: 'true' }],
      flag: 1,
      timeStamp,
    };
    return this.track({
      label: `add ${userName}`,
      kind: 'add',
      tenantId,
      userName,
      send: () => this.w.pusher.authSync(fields),
    });
  }

  /** authSync flag 0 (removed), 3 (authorization cancelled) or flag 1 with enable "false" (disabled). */
  revokeUser(tenantId: string, userName: string, how: 'remove' | 'cancel' | 'disable'): TrackedPush {
    const fields = {
      instanceId: '',
      tenantId,
      appId: APP_ID,
      userList: [
        {
          userName,
          name: userName,
          orgCode: 'hq',
          role: 'user',
          enable: how === 'disable' ? 'false' : 'true',
        },
      ],
      flag: how === 'remove' ? 0 : how === 'cancel' ? 3 : 1,
      timeStamp: this.w.pusher.nextSyncTime(),
    };
    return this.track({
      label: `${how} ${userName}`,
      kind: 'revoke',
      tenantId,
      userName,
      send: () => this.w.pusher.authSync(fields),
    });
  }

  /** tenantSync flag 0: the tenant, its users and its sessions go. */
  deleteTenant(tenantId: string): TrackedPush {
    const t = this.w.world.tenant(tenantId);
    const fields = {
      instanceId: t.instanceId,
      orderId: t.orderId,
      tenantId,
      tenantCode: t.tenantCode,
      name: t.name,
      domainName: this.w.world.domainName(t),
      flag: 0,
      timeStamp: this.w.pusher.nextSyncTime(),
    };
    return this.track({
      label: `delete tenant ${t.tenantCode}`,
      kind: 'delete-tenant',
      tenantId,
      send: () => this.w.pusher.tenantSync(fields),
    });
  }

  /** One attempt of a push; a revocation answered 000000 is checked on every session at once. */
  async send(push: TrackedPush): Promise<void> {
    let r: PushResult;
    try {
      r = await push.send();
    } catch {
      push.answers.push('no answer');
      this.noAnswer[this.faultOn ? 'fault' : 'after']++;
      return;
    }
    if (r.status !== 200) {
      this.unexpected.add(`push HTTP ${r.status}`);
      push.answers.push(`HTTP ${r.status}`);
      return;
    }
    push.answers.push(r.resultCode ?? 'no resultCode');
    if (r.resultCode === '000000' && r.bodySignValid !== false) {
      push.acked = true;
      if (push.kind !== 'add') await this.revoked(push);
    } else if (r.resultCode !== '000005')
      this.problems.push(`${push.label}: answered ${r.resultCode} ${r.resultMsg ?? ''} (${r.problem ?? ''})`);
  }

  /** The sessions a revocation ends must answer 401 from now on (503 while the store is out is no answer). */
  private async revoked(push: TrackedPush): Promise<void> {
    const hit = this.sessions.filter(
      (s) => s.tenantId === push.tenantId && (push.kind === 'delete-tenant' || s.userName === push.userName),
    );
    for (const s of hit) s.revokedBy = push;
    for (const s of hit) {
      const a = this.record('GET /api/v1/session', await sellerApi.session(this.relay, s.cookie));
      if (a.status === 200)
        this.outliving.push(`${s.userName}: 200 right after "${push.label}" was acknowledged`);
    }
  }

  /** A sign-in through the sandbox; the session is tracked when it succeeds. */
  async signIn(userName: string, tenantId: string, tally = this.signIns): Promise<TrackedSession | null> {
    let a;
    try {
      a = await attemptSignIn(this.relay, this.w.sandbox.url, this.w.spec, userName, { timeoutMs: 15_000 });
    } catch {
      tally.add('no answer');
      this.noAnswer[this.faultOn ? 'fault' : 'after']++;
      return null;
    }
    const answer: Answer = {
      status: a.status,
      contentType: a.contentType ?? '',
      body: a.body,
      json: null,
      error: null,
    };
    if (answer.contentType.startsWith('application/json'))
      try {
        answer.json = JSON.parse(a.body) as Record<string, unknown>;
        answer.error = typeof answer.json.error === 'string' ? answer.json.error : null;
      } catch {
        // judged as it is
      }
    this.record('GET /sso/callback', answer);
    if (a.status === 302 && a.cookie) {
      tally.add('signed in');
      const s = { userName, tenantId, cookie: a.cookie };
      this.sessions.push(s);
      return s;
    }
    // Nothing half-written: a refused sign-in must not leave the browser signed in (checked after the fault).
    if (a.cookie) this.refusedWithCookie.push({ status: a.status, userName, cookie: a.cookie });
    tally.add(
      a.status === 502 && documented5xx(answer) === 'idp'
        ? '502 page'
        : `${a.status}${answer.error ? ` ${answer.error}` : ''}`,
    );
    return null;
  }

  /** One seller-API call on a session: a read, or a token (renewed when `force`). */
  async useSession(s: TrackedSession, what: 'read' | 'token' | 'renew'): Promise<Answer> {
    if (what === 'read') {
      // Only a read sent after the revocation's answer arrived can prove it outlived.
      const revokedBy = s.revokedBy;
      const a = this.record('GET /api/v1/session', await sellerApi.session(this.relay, s.cookie));
      this.sessionReads.add(outcome(a, revokedBy));
      if (a.status === 200 && revokedBy)
        this.outliving.push(`${s.userName}: 200 after "${revokedBy.label}" was acknowledged`);
      return a;
    }
    const revokedBy = s.revokedBy;
    const a = this.record(
      'POST /api/v1/session/token',
      await sellerApi.token(this.relay, s.cookie, what === 'renew'),
    );
    if (what === 'renew') this.renewals.add(a.status === 200 ? 'renewed' : outcome(a, revokedBy));
    if (a.error === 'reauthenticate') s.toldToReauthenticate = true;
    return a;
  }
}

/** An answer in the case's summary: `200`, `503 store_unavailable`, `401 no_session (revoked)`… */
function outcome(a: Answer, revoked: TrackedPush | undefined): string {
  const text = a.status === 0 ? 'no answer' : `${a.status}${a.error ? ` ${a.error}` : ''}`;
  return revoked ? `${text} (revoked)` : text;
}

// ---- the cases ----

interface CaseContext {
  run: CaseRun;
  w: World;
  /** the tenant that gets new users and loses three; its users' sessions */
  a: { tenantId: string; userNames: string[]; tenantCode: string };
  /** the tenant deleted during the fault */
  b: { tenantId: string; userNames: string[] };
  windowMs: number;
}

type Outage = ReturnType<typeof documented5xx>;

interface FaultCase {
  name: string;
  what: string;
  /** whose outage the case is: the 5xx the documents promise for it are counted apart */
  outage: Outage;
  /** turns the fault on (at 20% of the window) */
  inject?: (c: CaseContext) => Promise<void> | void;
  /** turns it off (at 80%), restarting what was stopped */
  heal?: (c: CaseContext) => Promise<void> | void;
  /** replaces the standard traffic and fault timing */
  custom?: (c: CaseContext) => Promise<void>;
}

/** Every sandbox identity server answers 500 on its token and userinfo endpoints, or none does. */
const failIdps = (w: World, fail: boolean) => {
  for (const b of w.world.behaviour.values()) {
    b.failToken = fail;
    b.failUserinfo = fail;
  }
};

/** Every sandbox identity server takes `ms` to answer (and still does the work: refresh tokens rotate). */
const slowIdps = (w: World, ms: number) => {
  for (const b of w.world.behaviour.values()) {
    b.tokenDelayMs = ms;
    b.refreshDelayMs = ms;
    b.userinfoDelayMs = ms;
  }
};

/** Garbage an identity server might send, one kind per connection. */
const garbage = [
  (n: number) => httpAnswer('200 OK', 'application/json', `<html><body>gateway ${n}</body></html>`),
  () => httpAnswer('200 OK', 'application/json', '{"unexpected":true,"access_token":7}'),
  () => httpAnswer('200 OK', 'text/plain', '\u0000\u0001garbage'),
  () => Buffer.from('\u0016\u0003\u0001 not http at all\r\n\r\n', 'latin1'),
];

let dropper: NodeJS.Timeout | undefined;

const CASES: FaultCase[] = [
  {
    name: 'redis-pause',
    outage: 'store',
    what: 'redis-server stopped with SIGSTOP for 60% of the window, then SIGCONT',
    inject: ({ w }) => w.redis.pause(),
    heal: ({ w }) => w.redis.resume(),
  },
  {
    name: 'redis-restart',
    outage: 'store',
    what: 'redis-server killed (SIGKILL), restarted on its port from its append-only file',
    inject: ({ w }) => w.redis.stop(),
    heal: ({ w }) => w.redis.start(),
  },
  {
    name: 'redis-slow',
    outage: 'store',
    what: 'the network to Redis: 250 ms added each way, every connection dropped each second',
    inject: ({ w }) => {
      w.redisProxy!.set({ kind: 'delay', ms: 250 });
      dropper = setInterval(() => w.redisProxy!.drop(), 1000);
    },
    heal: ({ w }) => {
      clearInterval(dropper);
      w.redisProxy!.set({ kind: 'pass' });
    },
  },
  {
    name: 'idp-slow',
    outage: 'idp',
    what: `identity servers answer token and userinfo calls 3 s late (IDP_TIMEOUT_MS ${IDP_TIMEOUT_MS})`,
    inject: ({ w }) => slowIdps(w, 3000),
    heal: ({ w }) => slowIdps(w, 0),
  },
  {
    name: 'idp-down',
    outage: 'idp',
    what: 'identity servers refuse connections',
    inject: ({ w }) => w.idpProxy.set({ kind: 'refuse' }),
    heal: ({ w }) => w.idpProxy.set({ kind: 'pass' }),
  },
  {
    name: 'idp-500',
    outage: 'idp',
    what: 'identity servers answer 500 on token and userinfo (the sandbox failToken, failUserinfo)',
    inject: ({ w }) => failIdps(w, true),
    heal: ({ w }) => failIdps(w, false),
  },
  {
    name: 'idp-garbage',
    outage: 'idp',
    what: 'identity servers answer HTML as JSON, JSON of the wrong shape, binary, or not HTTP',
    inject: ({ w }) => w.idpProxy.set({ kind: 'answer', bytes: (n) => garbage[n % garbage.length]!(n) }),
    heal: ({ w }) => w.idpProxy.set({ kind: 'pass' }),
  },
  {
    name: 'relay-kill-push',
    outage: 'none',
    what: 'the relay SIGKILLed with pushes in flight, some written but not yet answered; restarted',
    custom: killMidPush,
  },
  {
    name: 'relay-kill-renewal',
    outage: 'none',
    what: 'the relay SIGKILLed while renewals wait on a slow identity server; restarted',
    custom: killMidRenewal,
  },
];

/** Two tenants of the case's own, provisioned, and every user signed in (the first three twice). */
async function prepare(run: CaseRun, w: World, index: number, windowMs: number): Promise<CaseContext> {
  const label = `f${index + 1}`;
  const a = await addTenant(w, `${label}a`, 8);
  const b = await addTenant(w, `${label}b`, 2);
  run.faultOn = false;
  for (const [i, userName] of a.userNames.entries()) {
    await run.signIn(userName, a.tenant.tenantId);
    if (i < 3) await run.signIn(userName, a.tenant.tenantId);
  }
  for (const userName of b.userNames) await run.signIn(userName, b.tenant.tenantId);
  if (run.signIns.get('signed in') !== 13)
    throw new Error(`${run.name}: the sign-ins before the fault failed (${run.signIns.text()})`);
  run.signIns.clear();
  run.faultOn = true;
  return {
    run,
    w,
    a: { tenantId: a.tenant.tenantId, userNames: a.userNames, tenantCode: a.tenant.tenantCode },
    b: { tenantId: b.tenant.tenantId, userNames: b.userNames },
    windowMs,
  };
}

/**
 * The standard traffic for `windowMs`: two marketplace loops adding users, the revocations at
 * 30%, 50%, 60% and 70%, two seller-app loops on the sessions, one browser signing in. The
 * fault is on from 20% to 80%.
 */
async function standardTraffic(c: CaseContext, fault: FaultCase): Promise<void> {
  const { run, a, b, windowMs } = c;
  const started = Date.now();
  const until = started + windowMs;
  const at = (share: number) => sleep(Math.max(0, started + share * windowMs - Date.now()));
  const stable = a.userNames.slice(3);

  const marketplace = async () => {
    while (Date.now() < until) {
      await run.send(run.addUser(a.tenantId));
      await sleep(50);
    }
  };
  const app = async () => {
    while (Date.now() < until) {
      const live = run.sessions.filter((s) => s.tenantId === a.tenantId);
      const s = live[Math.floor(Math.random() * live.length)]!;
      const dice = Math.random();
      if (dice < 0.45) await run.useSession(s, 'read');
      else if (dice < 0.65) await run.useSession(s, 'token');
      else if (dice < 0.8) await run.useSession(s, 'renew');
      else {
        const user = a.userNames[Math.floor(Math.random() * a.userNames.length)]!;
        run.record('POST /api/v1/authorize', await sellerApi.authorize(run.relay, a.tenantId, user));
      }
      await sleep(25);
    }
  };
  const browser = async () => {
    while (Date.now() < until) {
      await run.signIn(stable[Math.floor(Math.random() * stable.length)]!, a.tenantId);
      await sleep(250);
    }
  };
  const faultTimeline = async () => {
    await at(0.2);
    await fault.inject?.(c);
    await at(0.3);
    await run.send(run.revokeUser(a.tenantId, a.userNames[0]!, 'remove'));
    await at(0.5);
    await run.send(run.deleteTenant(b.tenantId));
    await at(0.6);
    await run.send(run.revokeUser(a.tenantId, a.userNames[1]!, 'cancel'));
    await at(0.7);
    await run.send(run.revokeUser(a.tenantId, a.userNames[2]!, 'disable'));
    await at(0.8);
    await fault.heal?.(c);
  };
  await Promise.all([marketplace(), marketplace(), app(), app(), browser(), faultTimeline()]);
}

/**
 * Pushes sent every 40 ms to four tenants (new users, the three revocations, the tenant
 * deletion) while each store round trip takes 300 ms. Once four are acknowledged, Redis's
 * answers are held back for a second and the relay is SIGKILLed 400 ms later: the writes it
 * sent meanwhile were applied but never answered, the pushes before them were cut off half-way,
 * and those after find it down. It is restarted on its port; the marketplace's retries follow
 * (in `settle`), and must land whether or not the first attempt was applied.
 */
async function killMidPush(c: CaseContext): Promise<void> {
  const { run, w, a, b } = c;
  // More tenants than A, so that writes are not all queued behind one tenant's version guard.
  const others = [];
  for (let i = 0; i < 3; i++) others.push((await addTenant(w, `kp${i}`, 0)).tenant.tenantId);
  const tenants = [a.tenantId, ...others];
  w.redisProxy!.set({ kind: 'delay', ms: 150 });
  const pushes: TrackedPush[] = [];
  for (let i = 0; i < 36; i++) pushes.push(run.addUser(tenants[i % tenants.length]!));
  pushes.splice(10, 0, run.revokeUser(a.tenantId, a.userNames[0]!, 'remove'));
  pushes.splice(14, 0, run.deleteTenant(b.tenantId));
  pushes.splice(18, 0, run.revokeUser(a.tenantId, a.userNames[1]!, 'cancel'));
  pushes.splice(22, 0, run.revokeUser(a.tenantId, a.userNames[2]!, 'disable'));
  const sent = pushes.map(async (p, i) => {
    await sleep(i * 40);
    await run.send(p);
  });
  const deadline = Date.now() + 10_000;
  while (run.pushes.filter((p) => p.acked).length < 4 && Date.now() < deadline) await sleep(10);
  w.redisProxy!.set({ kind: 'delay', ms: 150, answerMs: 1000 });
  await sleep(400);
  await w.relays[0]!.kill('SIGKILL');
  await Promise.all(sent);
  w.redisProxy!.set({ kind: 'pass' });
  await w.restartRelay(0);
}

/**
 * Forced renewals of the stable users' sessions while the identity server takes 1.5 s to
 * answer refresh grants; the relay is SIGKILLed 500 ms in, with every renewal claimed in Redis
 * and in flight at the identity server (which still rotates the refresh tokens). It is
 * restarted; each session must then still work, or ask cleanly for a new sign-in
 * (`reauthenticate`), including a forced renewal that first waits out the dead claim.
 */
async function killMidRenewal(c: CaseContext): Promise<void> {
  const { run, w, a } = c;
  const behaviour = w.world.idp(a.tenantCode);
  behaviour.refreshDelayMs = 1500;
  const stable = run.sessions.filter(
    (s) => s.tenantId === a.tenantId && !a.userNames.slice(0, 3).includes(s.userName),
  );
  const inFlight = stable.map((s) => run.useSession(s, 'renew'));
  await sleep(500);
  await w.relays[0]!.kill('SIGKILL');
  await Promise.all(inFlight);
  behaviour.refreshDelayMs = 0;
  await w.restartRelay(0);
  if (!(await waitReady(w.relays))) run.problems.push('the restarted relay did not become ready');
  run.faultOn = false;
  // The sessions still work while their dead claims last.
  for (const s of stable)
    if ((await run.useSession(s, 'read')).status !== 200)
      run.problems.push(`${s.userName}: the session did not answer 200 after the restart`);
  // A revocation of a user whose session had a dead claim, and of a tenant.
  await run.send(run.revokeUser(a.tenantId, a.userNames[3]!, 'remove'));
  await run.send(run.deleteTenant(c.b.tenantId));
}

/**
 * After the fault: wait for /readyz, note refused pushes that were applied anyway, resend every
 * push not acknowledged (the marketplace's retry), then check both invariants and the sessions.
 */
async function settle(c: CaseContext): Promise<void> {
  const { run, w } = c;
  if (!(await waitReady(w.relays)))
    run.problems.push('a relay did not answer /readyz 200 within 20 s of the heal');
  run.faultOn = false;
  for (const relay of w.relays) if (relay.exited()) run.problems.push(`${relay.name} exited`);

  // Answered 000005, yet applied: when the connection to Redis breaks after a write was sent,
  // the relay cannot know whether it landed. Counted, not failed: the retry must land either way.
  for (const p of run.pushes.filter(
    (p) => !p.acked && p.answers.length && p.answers.every((x) => x === '000005'),
  ))
    if ((await effect(run, p)) === true) run.refusedYetApplied++;

  // Sent, no answer (the relay died): either outcome is right; the retry must land either way.
  for (const p of run.pushes.filter((p) => !p.acked && p.answers.includes('no answer')))
    if ((await effect(run, p)) === true) run.appliedUnanswered++;

  for (const p of run.pushes.filter((p) => !p.acked))
    for (let attempt = 0; attempt < 5 && !p.acked; attempt++) {
      if (attempt) await sleep(300);
      await run.send(p);
    }
  for (const p of run.pushes.filter((p) => !p.acked))
    run.problems.push(`${p.label}: never acknowledged (${p.answers.join(', ')})`);

  for (const p of run.pushes.filter((p) => p.acked))
    if ((await effect(run, p)) !== true) run.lost.push(`${p.label} (answered ${p.answers.join(', ')})`);

  const working: TrackedSession[] = [];
  for (const s of run.sessions) {
    const read = run.record('GET /api/v1/session', await sellerApi.session(run.relay, s.cookie));
    if (s.revokedBy) {
      if (read.status !== 401 || read.error !== 'no_session')
        run.outliving.push(`${s.userName}: ${read.status} ${read.error ?? ''} after "${s.revokedBy.label}"`);
      continue;
    }
    if (read.status === 200) {
      if (s.toldToReauthenticate)
        run.problems.push(
          `${s.userName}: told to sign in again (reauthenticate), yet the session still works`,
        );
      else working.push(s);
      continue;
    }
    // Not revoked and not working: only a clean end is acceptable (a refused refresh token).
    const token = run.record('POST /api/v1/session/token', await sellerApi.token(run.relay, s.cookie));
    if (token.status === 401 && token.error === 'reauthenticate') run.ended++;
    else
      run.problems.push(
        `${s.userName}: a session not revoked answers ${read.status} ${read.error ?? ''}, token ${token.status} ${token.error ?? ''}`,
      );
  }
  // Renewal works again: a forced one (waiting out any claim a dead attempt left) renews, or
  // ends the session cleanly when the identity server had rotated the refresh token meanwhile.
  await Promise.all(
    working.map(async (s) => {
      const token = run.record(
        'POST /api/v1/session/token',
        await sellerApi.token(run.relay, s.cookie, true),
      );
      if (token.status === 200) run.renewedAfter++;
      else if (token.status === 401 && token.error === 'reauthenticate') run.ended++;
      else
        run.problems.push(
          `${s.userName}: a forced renewal after the fault answered ${token.status} ${token.error ?? ''}`,
        );
    }),
  );

  // A refused sign-in that set a cookie anyway: the cookie must name no session.
  for (const r of run.refusedWithCookie) {
    const read = run.record('GET /api/v1/session', await sellerApi.session(run.relay, r.cookie));
    if (read.status === 200)
      run.problems.push(`${r.userName}: a sign-in answered ${r.status}, yet its cookie is a working session`);
  }

  const again = await run.signIn(c.a.userNames[7]!, c.a.tenantId, new Tally());
  if (!again) run.problems.push('signing in after the fault failed');
  run.problems.push(...(await unindexedSessions(w)));
}

/** Whether a push's effect is in the mirror, read through the seller API (null: could not read). */
async function effect(run: CaseRun, p: TrackedPush): Promise<boolean | null> {
  if (p.kind === 'delete-tenant') {
    const a = run.record('GET /api/v1/tenants/{id}', await sellerApi.tenant(run.relay, p.tenantId));
    return a.status === 404 ? true : a.status === 200 ? false : null;
  }
  const a = run.record(
    'POST /api/v1/authorize',
    await sellerApi.authorize(run.relay, p.tenantId, p.userName!),
  );
  if (a.status !== 200 || typeof a.json?.allowed !== 'boolean') return null;
  return p.kind === 'add' ? a.json.allowed : !a.json.allowed;
}

/**
 * Every live session record in Redis must be in its user's index set, which is how a
 * revocation finds it (src/sso/sessions.ts: index first, then save). Index entries without a
 * record are harmless (a sign-in that died between the two).
 */
async function unindexedSessions(w: World): Promise<string[]> {
  const keys = new Keys(w.prefix);
  const problems: string[] = [];
  for await (const batch of w.client.scanIterator({ MATCH: `${keys.sessionPrefix()}*`, COUNT: 500 })) {
    for (const key of batch) {
      const raw = await w.client.get(key);
      if (!raw) continue;
      const { login } = decodeSessionRecord(raw);
      if (!login || login.ended) continue;
      const sid = key.slice(keys.sessionPrefix().length);
      const indexed = await w.client.sIsMember(
        keys.userSessions(login.tenantId, login.appId, login.userName),
        sid,
      );
      if (!indexed) problems.push(`a session of ${login.userName} is not in its user's index`);
    }
  }
  return problems;
}

// ---- running ----

interface CaseResult {
  name: string;
  what: string;
  acked: number;
  lost: number;
  outliving: number;
  documented: number;
  unexpected: number;
  passed: boolean;
  details: string[];
}

async function runCase(w: World, fault: FaultCase, index: number, windowMs: number): Promise<CaseResult> {
  const run = new CaseRun(w, fault.name);
  run.outage = fault.outage;
  const c = await prepare(run, w, index, windowMs);
  if (fault.custom) await fault.custom(c);
  else await standardTraffic(c, fault);
  await settle(c);

  const refused = run.pushes.filter((p) => p.answers.includes('000005')).length;
  const interrupted = run.pushes.filter((p) => p.answers.includes('no answer')).length;
  const retried = run.pushes.filter((p) => p.answers.length > 1).length;
  const unexpectedCount = [...run.unexpected.values()].reduce((s, n) => s + n, 0);
  const details = [
    `pushes: ${run.pushes.length} sent, ${refused} answered 000005 (${run.refusedYetApplied} of them applied), ` +
      `${interrupted} without an answer (${run.appliedUnanswered} of them applied), ${retried} resent until acknowledged`,
    `during the fault: sign-ins ${run.signIns.text()}; renewals ${run.renewals.text()}; session reads ${run.sessionReads.text()}`,
    `after it: ${run.renewedAfter} sessions renewed, ${run.ended} ended cleanly (reauthenticate); ` +
      `${run.refusedWithCookie.length} refused sign-ins had set a cookie (naming no session); ` +
      `requests without an answer: ${run.noAnswer.fault} during, ${run.noAnswer.after} after`,
    ...run.lost.map((l) => `LOST: ${l}`),
    ...run.outliving.map((o) => `OUTLIVED REVOCATION: ${o}`),
    ...[...run.unexpected].map(([k, n]) => `UNEXPECTED 5xx: ${n} × ${k}`),
    ...(run.noAnswer.after ? [`NO ANSWER after the fault healed: ${run.noAnswer.after}`] : []),
    ...run.problems.map((p) => `PROBLEM: ${p}`),
  ];
  const passed =
    run.lost.length === 0 &&
    run.outliving.length === 0 &&
    unexpectedCount === 0 &&
    run.noAnswer.after === 0 &&
    run.problems.length === 0;
  if (!passed)
    for (const relay of w.relays) {
      const lines = relay.logs().filter((l) => /"level":(40|50|60)/.test(l));
      details.push(`${relay.name}'s last warnings and errors:`, ...lines.slice(-8).map((l) => `  ${l}`));
    }
  return {
    name: fault.name,
    what: fault.what,
    acked: run.pushes.filter((p) => p.acked).length,
    lost: run.lost.length,
    outliving: run.outliving.length,
    documented: run.documented,
    unexpected: unexpectedCount,
    passed,
    details,
  };
}

function parseArgs(argv: string[]): { cases: FaultCase[]; windowMs: number } {
  let names: string[] | null = null;
  let windowS = 5;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg.startsWith('--case'))
      names = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (arg.startsWith('--window')) windowS = Number(value());
    else throw new Error(`unknown argument ${arg} (use --case NAME[,NAME] and --window SECONDS)`);
  }
  if (!Number.isFinite(windowS) || windowS < 2 || windowS > 120)
    throw new Error('--window: 2 to 120 seconds');
  const unknown = (names ?? []).filter((n) => !CASES.some((c) => c.name === n));
  if (unknown.length)
    throw new Error(`unknown case ${unknown.join(', ')}; the cases: ${CASES.map((c) => c.name).join(', ')}`);
  return { cases: names ? CASES.filter((c) => names!.includes(c.name)) : CASES, windowMs: windowS * 1000 };
}

async function main(): Promise<number> {
  const { cases, windowMs } = parseArgs(process.argv.slice(2));
  stopOnSignals(log);
  const w = await startWorld({
    relays: 1,
    users: 0,
    persistentRedis: true,
    redisProxy: true,
    env: { IDP_TIMEOUT_MS: String(IDP_TIMEOUT_MS) },
    progress: log,
  });
  const results: CaseResult[] = [];
  for (const [i, fault] of cases.entries()) {
    log(`${fault.name}: ${fault.what}`);
    const started = Date.now();
    const result = await runCase(w, fault, i, windowMs);
    results.push(result);
    log(
      `${fault.name}: ${result.passed ? 'pass' : 'FAIL'} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }

  say(
    table(
      [
        'case',
        'pushes acknowledged',
        'lost',
        'sessions outliving revocation',
        '5xx documented',
        '5xx other',
        'result',
      ],
      results.map((r) => [
        r.name,
        r.acked,
        r.lost,
        r.outliving,
        r.documented,
        r.unexpected,
        r.passed ? 'pass' : 'FAIL',
      ]),
      [false, true, true, true, true, true, false],
    ),
  );
  say();
  for (const r of results) {
    say(`${r.name}: ${r.what}`);
    for (const d of r.details) say(`  ${d}`);
  }
  const failed = results.filter((r) => !r.passed).length;
  say();
  say(failed ? `${failed} of ${results.length} cases FAILED` : `all ${results.length} cases passed`);
  return failed ? 1 : 0;
}

await runScript('faults', main);
