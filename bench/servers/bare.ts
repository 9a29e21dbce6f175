/**
 * The baselines for the seller API: a bare Express app with one route each and nothing else
 * (no helmet, logging, metrics, API key, validation or second read).
 *  - POST /bare (for POST /api/v1/authorize): parses the same JSON body, does one HGET on the
 *    same Redis key and answers the stored record as JSON.
 *  - GET /bare/session (for GET /api/v1/session): takes the session id from the relay's
 *    session cookie (no signature check), does one GET of the relay's stored session and
 *    answers who is signed in as JSON.
 */
import express from 'express';
import { createClient } from 'redis';
import { Keys } from '../../src/store/keys.js';
import { announce } from './announce.js';

const keys = new Keys(process.env.REDIS_PREFIX);
const appId = process.env.KOO_APP_ID ?? '';
const cookieName = process.env.SESSION_COOKIE_NAME ?? 'relay.sid';
const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error: Error) => console.error(`bare server redis: ${error.message}`));
await client.connect();

const app = express();
app.post('/bare', express.json({ limit: '16kb' }), async (req, res) => {
  const { tenantId, userName } = req.body as { tenantId: string; userName: string };
  const raw = await client.hGet(keys.users(tenantId, appId), userName);
  res.json({ allowed: raw !== null, ...(raw ? { user: JSON.parse(raw) as unknown } : {}) });
});

app.get('/bare/session', async (req, res) => {
  // `relay.sid=s%3A<sid>.<signature>`: the id is between "s:" and the last dot.
  const cookie = (req.get('cookie') ?? '').split(';').find((c) => c.trim().startsWith(`${cookieName}=`));
  const value = decodeURIComponent(cookie?.trim().slice(cookieName.length + 1) ?? '');
  const sid = value.slice(2, value.lastIndexOf('.'));
  const raw = sid ? await client.get(keys.session(sid)) : null;
  const login = raw ? (JSON.parse(raw) as { login?: Record<string, unknown> }).login : undefined;
  if (!login) return void res.status(401).json({ error: 'no_session' });
  res.json({
    user: { userName: login.userName, ...(login.profile as object) },
    tenant: { tenantId: login.tenantId },
    appId: login.appId,
  });
});

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
announce(server);
