/**
 * `POST /api/v1/authorize` under load (autocannon in this process, each server in a child
 * process), beside a bare Express app doing one HGET on the same Redis key and the floor
 * (bench/servers/floor.ts: Express 5, one GET of a small JSON record, res.json), measured
 * identically. The relay runs at production's LOG_LEVEL (info), and again at warn, its log lines
 * going to a file as `npm start` > file would write them.
 * The tenant and its users are seeded through real pushes first. The servers take turns (the
 * measured seconds of each are split into `rounds` segments, the order rotating), and the CPU
 * time each server process spent per request is recorded: on a shared machine it moves less
 * with other people's work than requests per second do.
 */
import { Pusher } from '../src/sandbox/pusher.js';
import { startRelayServer, startServer, type ChildServer } from './children.js';
import { API_KEY, APP_ID, KIT_KEY, newTenantId, SELLER_PUBLIC_KEY } from '../test/support/fixtures.js';
import { Keys } from '../src/store/keys.js';
import { benchUser, log, REDIS_URL, relayEnv, seedTenantWithUsers, type RedisClient } from './common.js';
import {
  contender,
  measureInTurns,
  prepare,
  startFloor,
  waitReady,
  type LoadRun,
  type Target,
  type TurnOptions,
} from './load.js';

export type { LoadRun };

export interface AuthorizeOptions extends TurnOptions {
  prefix: string;
  client: RedisClient;
  /** also run the relay at LOG_LEVEL=warn (beside production's info) */
  withWarnLogging: boolean;
}

const allowed = (status: number, body: unknown) =>
  status === 200 && (body as { allowed?: boolean }).allowed === true ? null : 'expected 200 allowed: true';

export async function runAuthorizeBenchmarks(o: AuthorizeOptions): Promise<LoadRun[]> {
  const tenantId = newTenantId();
  const userName = benchUser(7).userName;
  const body = JSON.stringify({ tenantId, userName });
  const json = { 'content-type': 'application/json' };
  const relayTarget = (name: string): Target => ({
    name,
    method: 'POST',
    path: '/api/v1/authorize',
    headers: { ...json, authorization: `Bearer ${API_KEY}` },
    body,
    check: allowed,
  });
  const servers: ChildServer[] = [];
  try {
    const relay = await startRelayServer('relay', relayEnv(o.prefix, { LOG_LEVEL: 'info' }));
    servers.push(relay);
    await waitReady(relay.url);
    // Seed through the front door: the tenant, the app's credential, then 500 users of the app.
    const pusher = new Pusher({
      productionAddress: relay.url,
      kitAccessKey: KIT_KEY,
      publicKey: SELLER_PUBLIC_KEY,
    });
    await seedTenantWithUsers(pusher, tenantId);

    const bare = await startServer('bare', 'bare.ts', {
      REDIS_URL,
      REDIS_PREFIX: o.prefix,
      KOO_APP_ID: APP_ID,
    });
    servers.push(bare);
    const record = await o.client.hGet(new Keys(o.prefix).users(tenantId, APP_ID), userName);
    if (!record) throw new Error('the user has no mirror record');
    const floor = await startFloor(o.prefix, record);
    servers.push(floor);
    const contenders = [
      contender(relay, relayTarget('relay, LOG_LEVEL=info (to a file)')),
      contender(floor, {
        name: 'floor: Express + one GET',
        method: 'POST',
        path: '/floor',
        headers: json,
        body,
        check: (status) => (status === 200 ? null : 'expected 200'),
      }),
      contender(bare, {
        name: 'bare Express + one HGET',
        method: 'POST',
        path: '/bare',
        headers: json,
        body,
        check: allowed,
      }),
    ];
    if (o.withWarnLogging) {
      const warn = await startRelayServer('relay (warn)', relayEnv(o.prefix, { LOG_LEVEL: 'warn' }));
      servers.push(warn);
      await waitReady(warn.url);
      contenders.push(contender(warn, relayTarget('relay, LOG_LEVEL=warn')));
    }
    for (const c of contenders) {
      log(`${c.target.name}: check and ${o.warmupS} s warm-up`);
      await prepare(c.server, c.target, o);
    }
    return await measureInTurns(contenders, o);
  } finally {
    for (const s of servers) await s.stop();
  }
}
