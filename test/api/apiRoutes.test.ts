// The seller API's two ways in (src/api/apiRoutes.ts): a request line that is exactly an
// operation's fixed path runs its chain from a Map, every other form through Express's router;
// both answer alike, and the log and metrics name the route alike.
import { describe, expect, it } from '@jest/globals';
import express, { type Request } from 'express';
import request from 'supertest';
import { z } from 'zod';
import { ApiRoutes } from '../../src/api/apiRoutes.js';
import { requireApiKey } from '../../src/api/auth.js';
import type { OperationDef } from '../../src/api/contract.js';
import { apiErrorHandler, ApiError } from '../../src/api/errors.js';
import { BatchedLines, createLogger, installRequestLog, requestLogger } from '../../src/ops/log.js';

const KEY = 'test-key-0000000000000000';
const op = (method: OperationDef['method'], path: `/${string}`, more: Partial<OperationDef> = {}) =>
  ({ method, path, tags: ['meta'], summary: path, responses: {}, ...more }) as OperationDef;

/** How a handler was reached: Express's router sets `req.route`, the Map does not. */
const way = (req: Request) => (req.route ? 'router' : 'exact');

function build() {
  const observed: string[] = [];
  const app = express();
  const logger = createLogger('silent', new BatchedLines({ write: () => undefined }));
  installRequestLog(app.request, logger);
  app.use(requestLogger(logger, (route, status) => observed.push(`${status} ${route}`)));
  const api = new ApiRoutes({ apiKey: requireApiKey([KEY]), onError: apiErrorHandler(() => undefined) });
  api.serve(op('get', '/doc', { security: 'public' }), (req, res) => res.json({ doc: true, way: way(req) }));
  api.serve(op('get', '/who'), (req, res) => res.json({ who: 'me', way: way(req) }));
  api.serve(
    op('post', '/echo', { request: { body: z.object({ n: z.number() }) } }),
    express.json(),
    (req, res, { body }) => res.json({ n: (body as { n: number }).n, way: way(req) }),
  );
  api.serve(op('get', '/items/{id}'), (req, res) => res.json({ id: req.params.id, way: way(req) }));
  api.serve(op('get', '/thrown'), () => {
    throw new ApiError(409, 'conflict', 'Thrown.');
  });
  api.serve(op('get', '/rejected'), () => Promise.reject(new ApiError(409, 'conflict', 'Rejected.')));
  api.serve(
    op('get', '/skipped'),
    (_req, _res, next) => next('route'),
    (_req, res) => res.json({ reached: true }),
  );
  // A public operation that leaves its route: what comes next is the API key, then 404.
  api.serve(
    op('get', '/open-skipped', { security: 'public' }),
    (_req, _res, next) => next('route'),
    (_req, res) => res.json({ reached: true }),
  );
  app.use(api.exactRoutes);
  app.use(...api.mount());
  app.use((_req, res) => res.status(404).send('not the API'));
  return { http: request(app), observed };
}

const withKey = (r: request.Test) => r.set('Authorization', `Bearer ${KEY}`);

describe('the API routes', () => {
  it('runs an exact request line from the Map, and every other form through the router, to the same answer', async () => {
    const { http } = build();
    expect((await withKey(http.get('/api/v1/who'))).body).toEqual({ who: 'me', way: 'exact' });
    for (const path of ['/api/v1/who?x=1', '/api/v1/who/', '/API/V1/WHO']) {
      const res = await withKey(http.get(path));
      expect([path, res.status, res.body]).toEqual([path, 200, { who: 'me', way: 'router' }]);
    }
    // HEAD is a GET route's, through the router.
    expect((await withKey(http.head('/api/v1/who'))).status).toBe(200);
    // A path with parameters is the router's alone.
    expect((await withKey(http.get('/api/v1/items/7'))).body).toEqual({ id: '7', way: 'router' });
  });

  it("puts the API key before every operation but the contract's public ones, both ways", async () => {
    const { http } = build();
    for (const path of ['/api/v1/who', '/api/v1/who/']) {
      const res = await http.get(path);
      expect([path, res.status, res.body.error]).toEqual([path, 401, 'unauthorized']);
      expect((await http.get(path).set('Authorization', 'Bearer wrong-key-00000000000')).status).toBe(401);
    }
    expect((await http.get('/api/v1/doc')).body).toEqual({ doc: true, way: 'exact' });
    expect((await http.get('/api/v1/doc?x')).body).toEqual({ doc: true, way: 'router' });
  });

  it("runs an operation's middlewares and checks its body, both ways", async () => {
    const { http } = build();
    expect((await withKey(http.post('/api/v1/echo')).send({ n: 3 })).body).toEqual({ n: 3, way: 'exact' });
    expect((await withKey(http.post('/api/v1/echo/')).send({ n: 4 })).body).toEqual({ n: 4, way: 'router' });
    for (const path of ['/api/v1/echo', '/api/v1/echo/']) {
      const bad = await withKey(http.post(path)).send({ n: 'three' });
      expect([path, bad.status, bad.body.error]).toEqual([path, 400, 'invalid_request']);
      const unparsable = await withKey(http.post(path)).set('Content-Type', 'application/json').send('{');
      expect([path, unparsable.status, unparsable.body.error]).toEqual([path, 400, 'invalid_request']);
    }
  });

  it('renders what an operation throws or rejects with through the API error handler, both ways', async () => {
    const { http } = build();
    for (const path of ['/api/v1/thrown', '/api/v1/thrown/', '/api/v1/rejected', '/api/v1/rejected/']) {
      const res = await withKey(http.get(path));
      expect([path, res.status, res.body]).toEqual([
        path,
        409,
        { error: 'conflict', message: path.includes('thrown') ? 'Thrown.' : 'Rejected.' },
      ]);
    }
  });

  it('answers the API 404 for what no operation answers, after the API key, both ways', async () => {
    const { http } = build();
    for (const path of [
      '/api/v1/skipped',
      '/api/v1/skipped/',
      '/api/v1/open-skipped',
      '/api/v1/open-skipped/',
      '/api/v1/nothing',
      '/api/v1/who?x',
    ]) {
      const method = path.includes('who') ? 'delete' : 'get';
      expect([path, (await http[method](path)).status]).toEqual([path, 401]);
      const res = await withKey(http[method](path));
      expect([path, res.status, res.body]).toEqual([
        path,
        404,
        { error: 'not_found', message: 'No such API route.' },
      ]);
    }
    expect((await http.get('/elsewhere')).text).toBe('not the API');
  });

  it('names the route for the log and metrics as Express names it, both ways', async () => {
    const { http, observed } = build();
    await withKey(http.get('/api/v1/who'));
    await withKey(http.get('/api/v1/who/'));
    await http.get('/api/v1/who');
    await withKey(http.get('/api/v1/items/7'));
    expect(observed).toEqual([
      '200 /api/v1/who',
      '200 /api/v1/who',
      '401 /api/v1/who',
      '200 /api/v1/items/:id',
    ]);
  });
});
