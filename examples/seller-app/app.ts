/**
 * A sample seller app: everything it knows about users comes from the relay's session API,
 * as a real SaaS app's would. This file is the integration example quoted in the README; its
 * own table of workspaces and users follows the relay's change feed (workspaces.ts).
 *
 * Deployment assumed: the app and the relay share one origin behind a reverse proxy
 * (`/sso/*` and `/produceAPI/*` go to the relay, the rest to the app), so the browser's relay
 * cookie reaches the app, which forwards it to the relay's API.
 */
import express from 'express';
import {
  RelayClient,
  RelayError,
  requireRelaySession,
  type Department,
  type RelaySession,
} from '../../src/client/index.js';
import type { Workspaces } from './workspaces.js';

export interface SellerAppOptions {
  /** the relay's API, reached privately (not through the public proxy) */
  relayApiUrl: string;
  relayApiKey: string;
  /** The app's own table, kept from the change feed (workspaces.ts): shown at /workspaces. */
  workspaces?: Workspaces;
}

export function createSellerApp({ relayApiUrl, relayApiKey, workspaces }: SellerAppOptions) {
  const relay = new RelayClient({ baseUrl: relayApiUrl, apiKey: relayApiKey });
  const signedIn = requireRelaySession({ client: relay });
  const adminsOnly = requireRelaySession({ client: relay, role: 'admin' });

  const app = express();
  app.disable('x-powered-by');
  app.use(express.urlencoded({ extended: false }));

  app.get('/', signedIn, async (req, res) => {
    const session = req.relaySession!;
    const path = await departmentPath(relay, session);
    res.type('html').send(page(session, path));
  });

  // Fetch a fresh access token for the tenant's identity server, through the relay.
  app.post('/token', signedIn, async (req, res) => {
    const session = req.relaySession!;
    try {
      const token = await relay.accessToken(req.relaySessionRef!, { forceRefresh: true });
      res.type('html').send(page(session, await departmentPath(relay, session), token));
    } catch (error) {
      if (error instanceof RelayError && error.code === 'reauthenticate')
        return res.redirect(303, '/sso/login?returnTo=%2F');
      throw error;
    }
  });

  app.get('/admin', adminsOnly, (req, res) => {
    const { user, tenant } = req.relaySession!;
    res.type('html').send(
      layout(
        '管理后台 · Admin',
        `
      <h1>管理后台 <small>Admin area</small></h1>
      <p data-testid="admin-welcome">${esc(user.name)}，您是 ${esc(tenant.name)} 的管理员。</p>
      <p class="en">${esc(user.name)}, you administer ${esc(tenant.name)} in this app.</p>
      <p><a href="/">← 返回 / Back</a></p>`,
      ),
    );
  });

  // Every tenant's workspace and users, as the app's own table holds them. An operator's view:
  // a real app shows it to the seller's staff only, behind its own staff sign-in.
  if (workspaces)
    app.get('/workspaces', (_req, res) => {
      res.type('html').send(workspacesPage(workspaces));
    });

  return app;
}

/** The user's department and its parents, from the mirrored department tree. */
async function departmentPath(relay: RelayClient, session: RelaySession): Promise<string[]> {
  const all: Department[] = await relay.departments(session.tenant.tenantId);
  const byCode = new Map(all.map((d) => [d.orgCode, d]));
  const path: string[] = [];
  for (
    let d = byCode.get(session.user.orgCode);
    d && path.length < 20;
    d = d.parentCode ? byCode.get(d.parentCode) : undefined
  ) {
    path.unshift(d.orgName);
  }
  return path;
}

function page(session: RelaySession, path: string[], token?: { accessToken: string; expiresAt: string }) {
  const { user, tenant } = session;
  return layout(
    '示例应用 · Sample app',
    `
    <h1>你好，<span data-testid="user-name">${esc(user.name)}</span></h1>
    <table>
      <tr><th>账号 Account</th><td data-testid="user-account">${esc(user.userName)}</td></tr>
      <tr><th>企业 Tenant</th><td data-testid="tenant-name">${esc(tenant.name)} <code>${esc(tenant.tenantCode)}</code></td></tr>
      <tr><th>角色 Role</th><td data-testid="user-role">${user.role === 'admin' ? '管理员 admin' : '普通用户 user'}</td></tr>
      <tr><th>部门 Department</th><td data-testid="department-path">${esc(path.join(' / ') || user.orgCode)}</td></tr>
      <tr><th>会话到期 Session ends</th><td>${esc(session.expiresAt)}</td></tr>
    </table>
    ${token ? `<p class="token" data-testid="token">新的访问令牌 / Fresh access token: <code>${esc(token.accessToken.slice(0, 8))}…</code> (expires ${esc(token.expiresAt)})</p>` : ''}
    <div class="actions">
      <form method="post" action="/token"><button type="submit" data-testid="fetch-token">获取新的访问令牌 / Fetch a fresh access token</button></form>
      <a class="button secondary" href="/admin" data-testid="admin-link">管理后台 / Admin area</a>
      <form method="post" action="/sso/logout"><button type="submit" class="secondary" data-testid="sign-out">退出登录 / Sign out</button></form>
    </div>`,
  );
}

function workspacesPage(table: Workspaces) {
  const status = {
    active: '正常 active',
    disabled: '已停用 disabled',
    deauthorized: '已取消授权 deauthorized',
  };
  const sections = [...table.byTenant.values()].map((w) => {
    const subscription = w.debug
      ? '调测 debug tenant'
      : w.instanceIds.map((id) => table.subscriptions.get(id) ?? 'unknown').join(', ') || '—';
    const users = [...w.users.values()].map(
      (u) =>
        `<tr data-testid="user"><td>${esc(u.name)}</td><td><code>${esc(u.userName)}</code></td><td>${u.role}</td><td>${status[u.status]}</td></tr>`,
    );
    return `<section data-testid="workspace" data-tenant-id="${esc(w.tenantId)}">
      <h2>${esc(w.name)} <small><code data-testid="tenant-code">${esc(w.tenantCode)}</code> · 订阅 subscription: <span data-testid="subscription">${esc(subscription)}</span></small></h2>
      <table>${users.join('') || '<tr><td>—</td></tr>'}</table>
    </section>`;
  });
  return layout(
    '工作区 · Workspaces',
    `
    <h1>工作区 <small>Workspaces, kept from the relay's change feed</small></h1>
    ${sections.join('') || '<p>还没有租户 / No tenant yet.</p>'}
    <p class="en">Feed cursor: <code data-testid="cursor">${esc(table.cursor ?? '(start)')}</code></p>`,
  );
}

function layout(title: string, body: string) {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>
body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;background:#f5f6f8;margin:0;color:#1f2329}
header{background:#1f2329;color:#fff;padding:12px 28px;font-size:14px}
main{max-width:640px;margin:40px auto;background:#fff;border-radius:10px;padding:32px 40px;box-shadow:0 2px 14px rgba(0,0,0,.07)}
h1 small{font-size:14px;color:#8f959e;font-weight:400}th{text-align:left;color:#646a73;font-weight:400;padding:6px 24px 6px 0}td{padding:6px 0}
.actions{margin-top:24px;display:flex;gap:10px;flex-wrap:wrap}form{display:inline;margin:0}
button,a.button{padding:9px 16px;border-radius:6px;border:1px solid #c7000b;background:#c7000b;color:#fff;font-size:14px;cursor:pointer;text-decoration:none}
.secondary{background:#fff!important;color:#c7000b!important}.token{background:#f0f9eb;padding:10px;border-radius:6px}.en{color:#646a73}
</style></head><body><header>示例 SaaS 应用 · Sample seller app (signed in through KooGallery)</header><main>${body}</main></body></html>`;
}

const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
