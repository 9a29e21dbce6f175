/**
 * The baseline for POST /api/v1/authorize: a bare Express app with one route that parses the
 * same JSON body, does one HGET on the same Redis key and answers the stored record as JSON.
 * No helmet, logging, metrics, API key, validation or second read.
 */
import express from 'express';
import { createClient } from 'redis';
import { Keys } from '../../src/store/keys.js';
import { announce } from './announce.js';

const keys = new Keys(process.env.REDIS_PREFIX);
const appId = process.env.KOO_APP_ID ?? '';
const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error: Error) => console.error(`bare server redis: ${error.message}`));
await client.connect();

const app = express();
app.post('/bare', express.json({ limit: '16kb' }), async (req, res) => {
  const { tenantId, userName } = req.body as { tenantId: string; userName: string };
  const raw = await client.hGet(keys.users(tenantId, appId), userName);
  res.json({ allowed: raw !== null, ...(raw ? { user: JSON.parse(raw) as unknown } : {}) });
});

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
announce(server);
