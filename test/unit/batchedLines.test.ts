// stdout's log lines in batches (src/ops/log.ts): in order, whole, once enough wait or on flush.
import { describe, expect, it } from '@jest/globals';
import { BatchedLines, createLogger } from '../../src/ops/log.js';

describe('BatchedLines', () => {
  it('writes nothing until a batch is full, then every waiting line in one write, in order', () => {
    const writes: string[] = [];
    const lines = new BatchedLines({ write: (text: string) => writes.push(text) }, 30);
    lines.write('{"n":1}\n');
    lines.write('{"n":2}\n');
    expect(writes).toEqual([]);
    lines.write('{"n":3}\n');
    lines.write('{"n":4}\n');
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n']);
    lines.write('{"n":5}\n');
    lines.flush();
    lines.flush();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n', '{"n":5}\n']);
  });

  it("carries pino's lines unchanged", () => {
    const writes: string[] = [];
    const lines = new BatchedLines({ write: (text: string) => writes.push(text) });
    const logger = createLogger('info', lines);
    logger.info({ route: '/api/v1/session', status: 200 }, 'request');
    logger.warn('second');
    expect(writes).toEqual([]);
    lines.flush();
    const written = writes.join('').split('\n').filter(Boolean);
    expect(written.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['request', 'second']);
    expect(JSON.parse(written[0]!)).toMatchObject({ level: 'info', route: '/api/v1/session', status: 200 });
  });
});
