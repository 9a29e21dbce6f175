// The request line (src/ops/log.ts requestLogger): secret-named fields are redacted whichever
// logger writes the line (the top-level-only child for flat fields, the full one otherwise).
import { describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { BatchedLines, createLogger, notes, requestLogger } from '../../src/ops/log.js';

const lineOf = async (fields: Record<string, unknown>) => {
  const written: string[] = [];
  const lines = new BatchedLines({ write: (text: string) => written.push(text) });
  const app = express();
  app.use(requestLogger(createLogger('info', lines), () => {}));
  app.get('/x', (_req, res) => {
    notes(res).fields = fields;
    res.end('ok');
  });
  await request(app).get('/x?code=in-the-query');
  lines.flush();
  const found = written
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === 'request');
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('the request line', () => {
  it('redacts a top-level field named as a secret, among flat fields', async () => {
    const line = await lineOf({ tenantId: 't1', code: 'abc', accessToken: 'tok' });
    expect(line).toMatchObject({ path: '/x', tenantId: 't1', code: '[redacted]', accessToken: '[redacted]' });
    expect(JSON.stringify(line)).not.toContain('in-the-query');
  });

  it('redacts a secret inside an object field', async () => {
    const line = await lineOf({ tenantId: 't1', idp: { client_secret: 's3cret', status: 400 } });
    expect(line.idp).toEqual({ client_secret: '[redacted]', status: 400 });
  });

  it('times the request from its start to the end of its answer, in ms for the line and seconds for metrics', async () => {
    const written: string[] = [];
    const lines = new BatchedLines({ write: (text: string) => written.push(text) });
    const observed: [string, number, number][] = [];
    const app = express();
    app.use(requestLogger(createLogger('info', lines), (...o) => observed.push(o)));
    app.get('/slow', (_req, res) => {
      setTimeout(() => res.end('ok'), 60);
    });
    await request(app).get('/slow');
    lines.flush();
    const line = JSON.parse(written.join('').split('\n')[0]!) as {
      ms: number;
      route: string;
      status: number;
    };
    expect(line).toMatchObject({ route: '/slow', status: 200 });
    expect(line.ms).toBeGreaterThanOrEqual(55);
    expect(line.ms).toBeLessThan(2000);
    expect(observed).toHaveLength(1);
    const [route, status, seconds] = observed[0]!;
    expect([route, status]).toEqual(['/slow', 200]);
    expect(seconds).toBeCloseTo(line.ms / 1000, 3);
  });
});
