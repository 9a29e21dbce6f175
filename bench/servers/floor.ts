/**
 * The floor for the seller API's hot paths, as issue 13 defines it: Express 5 with one node-redis
 * GET of a small JSON record and `res.json` — nothing else (no logging, metrics, API key, cookie,
 * validation or second read). FLOOR_KEY names the record (the benchmark stores a copy of a mirror
 * user record there).
 *  - GET /floor: the GET, `JSON.parse`, `res.json` (beside GET /api/v1/session).
 *  - POST /floor: `express.json()` first, then the same (beside POST /api/v1/authorize).
 */
import express from 'express';
import { createClient } from 'redis';
import { announce } from './announce.js';

const key = process.env.FLOOR_KEY ?? '';
const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error: Error) => console.error(`floor server redis: ${error.message}`));
await client.connect();

const answer = async (res: express.Response) => {
  const raw = await client.get(key);
  if (raw === null) return void res.status(404).json({ error: 'not_found' });
  res.json(JSON.parse(raw) as unknown);
};

const app = express();
app.get('/floor', (_req, res) => answer(res));
app.post('/floor', express.json({ limit: '16kb' }), (_req, res) => answer(res));

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
announce(server);
