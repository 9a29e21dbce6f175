// The sample seller app's own table of workspaces, kept from the change feed through the kit
// (examples/seller-app/workspaces.ts): started exactly as `npm run demo` starts it, its
// /workspaces page shows the tenants and users the demo provisioned, and follows later pushes.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEMO_PASSWORD, startDemo, type RunningDemo } from '../../src/demo/demo.js';
import { freePort } from '../support/redis.js';
import { fixture } from '../support/relay.js';

interface ShownWorkspace {
  name: string;
  code: string;
  subscription: string;
  /** "name userName role status" per user */
  users: string[];
}

/** The workspaces the page shows, by tenant id. */
async function shown(demo: RunningDemo): Promise<Record<string, ShownWorkspace>> {
  const res = await fetch(`${demo.url}/workspaces`);
  expect(res.status).toBe(200);
  const html = await res.text();
  const text = (s: string) =>
    s
      .replace(/<[^>]+>/g, ' ')
      .replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)))
      .replace(/\s+/g, ' ')
      .trim();
  const out: Record<string, ShownWorkspace> = {};
  for (const [, tenantId, body] of html.matchAll(
    /<section data-testid="workspace" data-tenant-id="([^"]+)">([\s\S]*?)<\/section>/g,
  )) {
    out[tenantId!] = {
      name: text(/<h2>([^<]*)/.exec(body!)![1]!),
      code: text(/data-testid="tenant-code">([^<]*)/.exec(body!)![1]!),
      subscription: text(/data-testid="subscription">([^<]*)/.exec(body!)![1]!),
      users: [...body!.matchAll(/<tr data-testid="user">([\s\S]*?)<\/tr>/g)].map((m) => text(m[1]!)).sort(),
    };
  }
  return out;
}

/** Polls the page until `check` passes (the app applies the feed a moment after each push). */
async function eventually(demo: RunningDemo, check: (w: Record<string, ShownWorkspace>) => void) {
  for (let waited = 0; ; waited += 50) {
    const workspaces = await shown(demo);
    try {
      check(workspaces);
      return workspaces;
    } catch (error) {
      if (waited >= 10_000) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("the sample app's workspaces, kept from the change feed", () => {
  let demo: RunningDemo;
  beforeAll(async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'relay-demo-keys-'));
    copyFileSync(fixture('seller-rsa-3072.pem'), join(keyDir, 'seller-private.pem'));
    copyFileSync(fixture('seller-rsa-3072.pub.pem'), join(keyDir, 'seller-public.pem'));
    const [port, relayPort, appPort, sandboxPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    demo = await startDemo({ port, relayPort, appPort, sandboxPort, keyDir, logLevel: 'silent' });
  });
  afterAll(() => demo?.close());

  it('shows every tenant the demo provisioned, with its users and subscription', async () => {
    const { production, debug, lapsed } = demo.tenants;
    await eventually(demo, (w) =>
      expect(w).toEqual({
        [production.tenantId]: {
          name: '华为示例科技有限公司',
          code: 'huaweidemo',
          subscription: 'active',
          users: [
            '张三 zhangsan admin 正常 active',
            '李四 lisi user 正常 active',
            '王五 wangwu user 已停用 disabled',
          ],
        },
        [debug.tenantId]: {
          name: '卖家调测租户',
          code: 'sellerdebug',
          subscription: '调测 debug tenant',
          users: ['调测账号 tester admin 正常 active'],
        },
        [lapsed.tenantId]: {
          name: '过期示例贸易有限公司',
          code: 'lapseddemo',
          subscription: 'frozen',
          users: ['赵六 zhaoliu admin 正常 active'],
        },
      }),
    );
  });

  it('follows later pushes: a new buyer, a renewal, a user removed and one de-authorized', async () => {
    const { world, appId } = demo;
    const { production, lapsed } = demo.tenants;
    const buyer = world.addTenant({
      name: '新买家有限公司',
      tenantCode: 'newbuyer',
      departments: [{ orgCode: 'hq', orgName: '总部', parentCode: '' }],
    });
    world.addUser({
      tenantId: buyer.tenantId,
      userName: 'qianqi',
      password: DEMO_PASSWORD,
      name: '钱七',
      role: 'admin',
      orgCode: 'hq',
      apps: new Set([appId]),
    });
    await world.provision(appId, [buyer.tenantId]);
    await world.lifecycle(appId, lapsed.tenantId, { kind: 'unfreeze' });
    const pusher = world.pusher(appId);
    const common = { instanceId: production.instanceId, tenantId: production.tenantId, appId, testFlag: 0 };
    for (const [userName, flag] of [
      ['lisi', 0],
      ['wangwu', 3],
    ] as const) {
      const r = await pusher.authSync({ ...common, userList: [{ userName }], flag });
      expect(r.resultCode).toBe('000000');
    }
    await eventually(demo, (w) => {
      expect(w[buyer.tenantId]).toEqual({
        name: '新买家有限公司',
        code: 'newbuyer',
        subscription: 'active',
        users: ['钱七 qianqi admin 正常 active'],
      });
      expect(w[lapsed.tenantId]?.subscription).toBe('active');
      expect(w[production.tenantId]?.users).toEqual([
        '张三 zhangsan admin 正常 active',
        '王五 wangwu user 已取消授权 deauthorized',
      ]);
    });
    // the page says how far the feed was applied: the relay's newest event
    const res = await fetch(`${demo.relayApiUrl}/api/v1/events?limit=500`, {
      headers: { authorization: `Bearer ${demo.apiKey}` },
    });
    const { events } = (await res.json()) as { events: { id: string }[] };
    expect(demo.workspaces.cursor).toBe(events.at(-1)!.id);
  });
});
