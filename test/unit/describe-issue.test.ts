// resultMsg names the field at fault (describeIssue); a field name the caller chose is shown as
// one printable line and the message stays within the document's 255 characters (§3). Found by
// the route fuzzing (test/properties/routes.fuzz.test.ts): a 300-character extra field holding a
// number made a 317-character resultMsg.
import { describe, expect, it } from '@jest/globals';
import { newInstanceSchema } from '../../src/kit/basicSchemas.js';
import { describeIssue } from '../../src/kit/schemas.js';

const purchase = {
  activity: 'newInstance',
  businessId: 'b-1',
  orderId: 'CS1',
  orderLineId: 'CS1-000001',
  testFlag: '0',
};

const messageFor = (body: Record<string, unknown>) => {
  const parsed = newInstanceSchema.safeParse(body);
  if (parsed.success) throw new Error('expected a refusal');
  return describeIssue(parsed.error);
};

describe('describeIssue', () => {
  it('names a field as it is spelled when it is short and printable', () => {
    expect(messageFor({ ...purchase, customerId: 7 })).toBe('customerId must be a string');
  });

  it('cuts a long field name, and the message stays within 255 characters', () => {
    const message = messageFor({ ...purchase, ['x'.repeat(300)]: 7 });
    expect(message).toBe(`${'x'.repeat(61)}... must be a string`);
    expect(messageFor({ ...purchase, ['中'.repeat(5000)]: 1 }).length).toBeLessThanOrEqual(255);
  });

  it('shows control characters and line separators in a field name as "?"', () => {
    expect(messageFor({ ...purchase, 'a\nb\u0000c\u2028': 1 })).toBe('a?b?c? must be a string');
  });
});
