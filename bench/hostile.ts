/**
 * Unauthenticated bodies against the event loop (issue 9 §1): while normal traffic runs
 * (`POST /api/v1/authorize` at 4 concurrent callers), hostile allOrgSync bodies of 4 MiB arrive
 * at 20/s with a current `x-timestamp` and a wrong `x-sign`. Measured in the relay's process:
 * event-loop delay (`perf_hooks.monitorEventLoopDelay`, p99 and max) and the normal calls'
 * latency, without hostile traffic and with each kind of hostile body:
 * - "wide": 4 MiB of top-level members (refused by the canonical scan at the 65th);
 * - "decimals": one orgInfoList of 4 MiB of decimals (canonical printing is costliest there).
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { API_KEY, newTenantId, tenantFields } from '../test/support/fixtures.js';
import { log, round, startInProcessRelay, stats, type Stats } from './common.js';

export interface HostileRow {
  setting: string;
  /** event-loop delay in ms */
  loopP99: number;
  loopMax: number;
  normal: Stats;
  /** hostile calls sent, and how they were answered (resultCode or error) */
  hostile: Record<string, number>;
}

const LIMIT = 4 * 1024 * 1024;

function wideBody(): Buffer {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; size < LIMIT - 32; i++) {
    const member = `"k${i}":${i}`;
    parts.push(member);
    size += member.length + 1;
  }
  return Buffer.from(`{${parts.join(',')}}`);
}

function decimalsBody(): Buffer {
  const head = `{"tenantId":"${'a'.repeat(32)}","timeStamp":"20260101000000000","orgInfoList":[`;
  const nums: string[] = [];
  let size = head.length + 2;
  for (let i = 0; size < LIMIT - 32; i++) {
    const n = `${i}.${(i * 7919) % 1000}1e-3`;
    nums.push(n);
    size += n.length + 1;
  }
  return Buffer.from(`${head}${nums.join(',')}]}`);
}

export async function runHostileBenchmark(o: { prefix: string; seconds: number }): Promise<HostileRow[]> {
  const r = await startInProcessRelay(o.prefix);
  try {
    const tenantId = newTenantId();
    const seeded = await r.pusher.tenantSync(tenantFields(tenantId));
    if (!seeded.ok) throw new Error(`tenantSync failed: ${seeded.problem}`);
    const bodies = { wide: wideBody(), decimals: decimalsBody() };
    const rows: HostileRow[] = [];
    for (const setting of ['none', 'wide', 'decimals'] as const) {
      log(`hostile: ${setting} for ${o.seconds} s`);
      rows.push(
        await measure(r.url, tenantId, setting === 'none' ? null : bodies[setting], setting, o.seconds),
      );
    }
    return rows;
  } finally {
    await r.close();
  }
}

async function measure(
  url: string,
  tenantId: string,
  hostileBody: Buffer | null,
  setting: string,
  seconds: number,
): Promise<HostileRow> {
  const until = performance.now() + seconds * 1000;
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  const latencies: number[] = [];
  const answers: Record<string, number> = {};
  const sent: Promise<void>[] = [];
  histogram.enable();

  const normal = async () => {
    while (performance.now() < until) {
      const started = performance.now();
      const res = await fetch(`${url}/api/v1/authorize`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tenantId, userName: 'alice' }),
      });
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
    }
  };
  const hostile = async () => {
    if (!hostileBody) return;
    for (let next = performance.now(); next < until; next += 50) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
      sent.push(
        fetch(`${url}/produceAPI/v2/allOrgSync`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-timestamp': String(Date.now()),
            'x-nonce': randomBytes(32).toString('hex').toUpperCase(),
            'x-sign': 'A'.repeat(64),
          },
          body: new Uint8Array(hostileBody),
        })
          .then(async (res) => {
            const answer = (await res.json()) as { resultCode?: string };
            const key = answer.resultCode ?? `HTTP ${res.status}`;
            answers[key] = (answers[key] ?? 0) + 1;
          })
          .catch((error: unknown) => {
            const key = (error as Error).name;
            answers[key] = (answers[key] ?? 0) + 1;
          }),
      );
    }
  };
  await Promise.all([normal(), normal(), normal(), normal(), hostile()]);
  await Promise.all(sent);
  histogram.disable();
  return {
    setting,
    loopP99: round(histogram.percentile(99) / 1e6),
    loopMax: round(histogram.max / 1e6),
    normal: stats(latencies),
    hostile: answers,
  };
}
