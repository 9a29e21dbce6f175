/**
 * The identity half of the sandbox (joint-login.md §3–§5, §8, §9): KooGallery's unified-login
 * page, each tenant's identity server at its `domainName` (`/t/{tenantCode}`), and the
 * enterprise workbench's IdP-initiated launch. One Express app serves all three roles.
 *
 * Faithful where the relay could be wrong: the login page keeps its parameters in the URL
 * fragment and returns only `code` and `tenant`; codes are single-use, short-lived and bound
 * to the client; refresh tokens rotate; errors use the documented bodies and statuses.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import express, { type Request, type Response, type Router } from 'express';
import { cookieValue } from '../sso/cookies.js';
import type { SandboxTenant, SandboxUser, SandboxWorld } from './world.js';

interface CodeGrant {
  appId: string;
  tenantId: string;
  userName: string;
  clientId: string;
  expiresAt: number;
  used: boolean;
}
interface AccessGrant {
  tenantId: string;
  userName: string;
  clientId: string;
  expiresAt: number;
}
interface RefreshGrant {
  tenantId: string;
  userName: string;
  clientId: string;
  /** the 30-day window does not slide on rotation (joint-login.md §4 simulator note) */
  expiresAt: number;
  revoked: boolean;
}

export interface IdentityStats {
  /** token endpoint calls by grant type, including refused ones */
  token: Record<string, number>;
  refreshes: { tenantCode: string; at: number; ok: boolean }[];
  userinfo: number;
  logouts: number;
}

const SSO_COOKIE = 'sandbox_sso';

export interface IdentityServer {
  router: Router;
  stats: IdentityStats;
  /** Test helper: whether a refresh token is still accepted. */
  refreshTokenActive(token: string): boolean;
  /** Test helper: the administrator revokes every refresh token of a user. */
  revokeRefreshTokens(userName: string): number;
}

export function identityServer(world: SandboxWorld, now: () => number = Date.now): IdentityServer {
  const codes = new Map<string, CodeGrant>();
  const accessTokens = new Map<string, AccessGrant>();
  const refreshTokens = new Map<string, RefreshGrant>();
  const ssoSessions = new Map<string, string>(); // sso cookie -> userName
  const stats: IdentityStats = { token: {}, refreshes: [], userinfo: 0, logouts: 0 };
  const router = express.Router();
  const page = readFileSync(new URL('../../views/sandbox/unified-login.html', import.meta.url), 'utf8');
  const script = readFileSync(new URL('../../views/sandbox/unified-login.js', import.meta.url), 'utf8');

  const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

  /** The redirect the unified login sends the browser to: the registered callback with code and tenant only. */
  const issueCode = (appId: string, user: SandboxUser): string => {
    const app = world.apps.get(appId)!;
    const tenant = world.tenant(user.tenantId);
    const { clientId } = world.client(tenant.tenantId, appId);
    const code = randomBytes(24).toString('base64url');
    codes.set(code, {
      appId,
      tenantId: tenant.tenantId,
      userName: user.userName,
      clientId,
      expiresAt: now() + world.idp(tenant.tenantCode).codeTtlSeconds * 1000,
      used: false,
    });
    const sep = app.callbackUrl.includes('?') ? '&' : '?';
    return `${app.callbackUrl}${sep}code=${encodeURIComponent(code)}&tenant=${encodeURIComponent(tenant.tenantId)}`;
  };

  const loginProblem = (appId: string, user: SandboxUser | undefined): string | null => {
    if (!world.apps.has(appId)) return 'unknown appId';
    if (!user) return 'unknown user';
    if (!user.apps.has(appId)) return 'this account is not authorized for the application';
    return null;
  };

  const ssoUser = (req: Request): SandboxUser | undefined => {
    const sid = cookieValue(req.get('cookie'), SSO_COOKIE);
    const name = sid ? ssoSessions.get(sid) : undefined;
    return name ? world.users.get(name) : undefined;
  };

  // ---- KooGallery unified login (macroverse) ----
  router.get('/unified-login/', (_req, res) => {
    res.type('html').send(page);
  });
  router.get('/unified-login/app.js', (_req, res) => {
    res.type('application/javascript').send(script);
  });
  router.get('/unified-login/api/app', (req, res) => {
    const app = world.apps.get(String(req.query.appId ?? ''));
    if (!app)
      return void res.status(404).json({ error: 'unknown_app', message: 'No application with this appId.' });
    res.json({ appId: app.appId, name: app.name });
  });
  // The SPA asks whether the browser already has a KooGallery session (then no form is shown).
  router.get('/unified-login/api/sso', (req, res) => {
    const appId = String(req.query.appId ?? '');
    const user = ssoUser(req);
    if (!user || loginProblem(appId, user)) return void res.status(204).end();
    res.json({ redirect: issueCode(appId, user) });
  });
  router.post('/unified-login/api/login', express.json({ limit: '4kb' }), (req, res) => {
    const { appId, username, password } = (req.body ?? {}) as Record<string, unknown>;
    const user = typeof username === 'string' ? world.users.get(username) : undefined;
    if (!user || typeof password !== 'string' || user.password !== password)
      return void res
        .status(401)
        .json({ error: 'bad_credentials', message: '账号或密码错误 / Wrong account or password.' });
    const problem = loginProblem(String(appId), user);
    if (problem) return void res.status(403).json({ error: 'not_allowed', message: problem });
    const sid = randomUUID();
    ssoSessions.set(sid, user.userName);
    res.cookie(SSO_COOKIE, sid, { httpOnly: true, sameSite: 'lax', path: '/' });
    res.json({ redirect: issueCode(String(appId), user) });
  });
  // NOT part of KooGallery: a shortcut for headless tests, the same redirect without the form.
  router.get('/unified-login/__auto', (req, res) => launch(req, res));
  // The 开天 enterprise workbench: IdP-initiated, the app's callback is the first the relay hears of it.
  router.get('/workbench/launch', (req, res) => launch(req, res));

  const launch = (req: Request, res: Response) => {
    const appId = String(req.query.appId ?? '');
    const user = world.users.get(String(req.query.user ?? ''));
    const problem = loginProblem(appId, user);
    if (problem) return void res.status(400).type('text/plain').send(problem);
    res.redirect(302, issueCode(appId, user!));
  };

  // ---- each tenant's identity server, at domainName = {base}/t/{tenantCode} ----
  const tenantRouter = express.Router({ mergeParams: true });
  router.use(
    '/t/:tenantCode',
    (req, res, next) => {
      const tenant = world.tenantByCode(String(req.params.tenantCode));
      if (!tenant)
        return void res.status(404).json({ error: 'not_found', error_description: 'Unknown tenant domain' });
      (res.locals as { tenant: SandboxTenant }).tenant = tenant;
      next();
    },
    tenantRouter,
  );

  const oauthError = (res: Response, status: number, error: string, description: string) =>
    res.status(status).json({ error, error_description: description });

  tenantRouter.post(
    '/api/v1/oauth2/token',
    express.urlencoded({ extended: false, limit: '8kb' }),
    async (req, res) => {
      const tenant = (res.locals as { tenant: SandboxTenant }).tenant;
      const behaviour = world.idp(tenant.tenantCode);
      const body = (req.body ?? {}) as Record<string, string>;
      const grant = body.grant_type ?? '';
      stats.token[grant] = (stats.token[grant] ?? 0) + 1;
      await sleep(grant === 'refresh_token' ? behaviour.refreshDelayMs : behaviour.tokenDelayMs);
      if (behaviour.failToken)
        return void res
          .status(500)
          .json({ error: 'server_error', error_description: 'Internal Server Error' });

      // client_secret_post, and HTTP Basic to be lenient (joint-login.md §3.4)
      let clientId = body.client_id;
      let clientSecret = body.client_secret;
      const basic = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '');
      if (basic) {
        const [id, secret] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
        clientId = decodeURIComponent(id ?? '');
        clientSecret = decodeURIComponent(secret ?? '');
      }
      const appId = [...tenant.clients.entries()].find(([, c]) => c.clientId === clientId)?.[0];
      const client = appId ? tenant.clients.get(appId) : undefined;
      if (!client || client.clientSecret !== clientSecret)
        return void oauthError(res, 401, 'invalid_client', 'Bad client credentials');

      if (grant === 'authorization_code') {
        const code = body.code ? codes.get(body.code) : undefined;
        if (
          !code ||
          code.used ||
          code.expiresAt < now() ||
          code.clientId !== clientId ||
          code.tenantId !== tenant.tenantId
        ) {
          if (code) code.used = true; // a replayed or misdirected code is burnt (single use)
          return void oauthError(res, 400, 'invalid_grant', 'Invalid authorization code');
        }
        code.used = true;
        if (body.redirect_uri !== undefined && body.redirect_uri !== world.apps.get(code.appId)?.callbackUrl)
          return void oauthError(res, 400, 'invalid_grant', 'Redirect URI mismatch.');
        const refresh = mintRefresh(
          code.tenantId,
          code.userName,
          clientId!,
          now() + behaviour.refreshTtlSeconds * 1000,
        );
        return void res.json(
          tokenResponse(
            mintAccess(code.tenantId, code.userName, clientId!, behaviour.accessTtlSeconds),
            behaviour,
            refresh,
          ),
        );
      }
      if (grant === 'refresh_token') {
        const old = body.refresh_token ? refreshTokens.get(body.refresh_token) : undefined;
        const ok = !!old && !old.revoked && old.expiresAt > now() && old.clientId === clientId;
        stats.refreshes.push({ tenantCode: tenant.tenantCode, at: now(), ok });
        if (!ok) return void oauthError(res, 400, 'invalid_grant', 'Invalid refresh token');
        let refresh = body.refresh_token!;
        if (behaviour.rotateRefreshTokens) {
          refresh = mintRefresh(old.tenantId, old.userName, clientId!, old.expiresAt);
          if (behaviour.revokeRotatedRefreshTokens) old.revoked = true;
        }
        return void res.json(
          tokenResponse(
            mintAccess(old.tenantId, old.userName, clientId!, behaviour.accessTtlSeconds),
            behaviour,
            refresh,
          ),
        );
      }
      if (!grant) return void oauthError(res, 400, 'invalid_request', 'Missing grant type');
      oauthError(res, 400, 'unsupported_grant_type', `Unsupported grant type: ${grant}`);
    },
  );

  tenantRouter.get('/api/v1/oauth2/userinfo', async (req, res) => {
    const tenant = (res.locals as { tenant: SandboxTenant }).tenant;
    const behaviour = world.idp(tenant.tenantCode);
    stats.userinfo++;
    await sleep(behaviour.userinfoDelayMs);
    if (behaviour.failUserinfo)
      return void res.status(500).json({ error: 'server_error', error_description: 'Internal Server Error' });
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!bearer)
      return void oauthError(
        res,
        401,
        'unauthorized',
        'Full authentication is required to access this resource',
      );
    const grant = accessTokens.get(bearer[1]!);
    if (!grant || grant.expiresAt < now() || grant.tenantId !== tenant.tenantId)
      return void oauthError(res, 401, 'invalid_token', `Invalid access token: ${bearer[1]}`);
    const user = world.users.get(grant.userName)!;
    const id = `20201029190841785-${user.userName}`;
    const minimal = {
      id,
      name: user.name,
      userName: user.userName,
      mobile: user.mobile ?? '',
      email: user.email ?? '',
    };
    if (behaviour.userinfoMode === 'minimal') return void res.json(minimal);
    const org = tenant.departments.find((d) => d.orgCode === user.orgCode);
    res.json({
      ...minimal,
      role: user.role,
      organizationName: org?.orgName ?? '',
      userId: id,
      organizationCode: user.orgCode,
      projectName: tenant.name,
      tenant: tenant.tenantId,
    });
  });

  tenantRouter.get('/api/v1/logout', (req, res) => {
    stats.logouts++;
    const sid = cookieValue(req.get('cookie'), SSO_COOKIE);
    if (sid) ssoSessions.delete(sid);
    res.clearCookie(SSO_COOKIE, { path: '/' });
    const target = typeof req.query.redirect_url === 'string' ? req.query.redirect_url : '';
    res.redirect(302, target || '/unified-login/');
  });

  function mintAccess(tenantId: string, userName: string, clientId: string, ttlSeconds: number) {
    const token = randomUUID();
    accessTokens.set(token, { tenantId, userName, clientId, expiresAt: now() + ttlSeconds * 1000 });
    return token;
  }
  function mintRefresh(tenantId: string, userName: string, clientId: string, expiresAt: number) {
    const token = randomUUID();
    refreshTokens.set(token, { tenantId, userName, clientId, expiresAt, revoked: false });
    return token;
  }
  function tokenResponse(access: string, behaviour: { accessTtlSeconds: number }, refresh: string) {
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: behaviour.accessTtlSeconds,
      scope: 'get_user_info',
      refresh_token: refresh,
    };
  }

  return {
    router,
    stats,
    revokeRefreshTokens: (userName) => {
      let n = 0;
      for (const r of refreshTokens.values())
        if (r.userName === userName && !r.revoked) {
          r.revoked = true;
          n++;
        }
      return n;
    },
    refreshTokenActive: (token) => {
      const r = refreshTokens.get(token);
      return !!r && !r.revoked && r.expiresAt > now();
    },
  };
}
