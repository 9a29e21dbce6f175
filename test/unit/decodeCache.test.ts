// Decoded values shared by the hot reads (src/store/decodeCache.ts): once per text, frozen, bounded.
import { describe, expect, it } from '@jest/globals';
import { DecodeCache } from '../../src/store/decodeCache.js';

describe('DecodeCache', () => {
  it('decodes a text once and gives every reader the same value', () => {
    let decodes = 0;
    const cache = new DecodeCache((text) => {
      decodes++;
      return JSON.parse(text) as unknown;
    });
    const first = cache.get('{"user":{"userName":"alice"}}');
    // a copy of the text, as each read from the store brings
    const again = cache.get(`{"user":{"userName":"${'alice'}"}}`);
    expect(again).toBe(first);
    expect(decodes).toBe(1);
    expect(cache.get('{"user":{"userName":"bob"}}')).toEqual({ user: { userName: 'bob' } });
    expect(decodes).toBe(2);
  });

  it('freezes what it shares, nested objects and arrays too, so a write throws', () => {
    const cache = new DecodeCache((text) => JSON.parse(text) as { user: { roles: string[] } });
    const value = cache.get('{"user":{"roles":["admin"]}}');
    expect(() => {
      value.user.roles.push('owner');
    }).toThrow(TypeError);
    expect(() => {
      (value.user as { name?: string }).name = 'x';
    }).toThrow(TypeError);
    expect(cache.get('{"user":{"roles":["admin"]}}').user.roles).toEqual(['admin']);
  });

  it('by a name: the text under that name now, compared whole', () => {
    let decodes = 0;
    const cache = new DecodeCache((text) => {
      decodes++;
      return JSON.parse(text) as { v: number };
    });
    expect(cache.get('{"v":1}', 'sid-1').v).toBe(1);
    expect(cache.get(`{"v":${1}}`, 'sid-1').v).toBe(1);
    expect(decodes).toBe(1);
    // the session was rewritten: same name, another text
    expect(cache.get('{"v":2}', 'sid-1').v).toBe(2);
    expect(cache.get('{"v":1}', 'sid-2').v).toBe(1);
    expect(decodes).toBe(3);
  });

  it('holds at most its capacity', () => {
    const cache = new DecodeCache((text) => text.length, 3);
    for (const text of ['a', 'bb', 'ccc', 'dddd', 'eeeee']) cache.get(text);
    expect(cache.size).toBeLessThanOrEqual(3);
    expect(cache.get('eeeee')).toBe(5);
  });
});
