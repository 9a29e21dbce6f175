import { describe, expect, it } from '@jest/globals';
import { ANSWERED } from '../../../src/sso/callback/context.js';
import { transport } from '../../../src/sso/callback/transport.js';
import { failureOf, fake, logins } from './fakes.js';

const HTTPS = { PUBLIC_URL: 'https://isv.example.com' };

describe('callback step: transport', () => {
  it('passes any request when PUBLIC_URL is http', async () => {
    const f = fake();
    expect(await transport(f.ctx)).toBeUndefined();
    expect(f.res.body).toBeUndefined();
  });

  it.each([
    ['X-Forwarded-Proto: https', { 'X-Forwarded-Proto': 'https' }, false],
    ['X-Forwarded-Proto: HTTPS', { 'X-Forwarded-Proto': 'HTTPS' }, false],
    ['the first of several proxies saying https', { 'X-Forwarded-Proto': 'https, http' }, false],
    ['a TLS socket', {}, true],
  ])('passes an https PUBLIC_URL request over %s', async (_name, headers, encrypted) => {
    const f = fake({ env: HTTPS, headers, encrypted });
    expect(await transport(f.ctx)).toBeUndefined();
    expect(f.res.body).toBeUndefined();
  });

  it.each([
    ['no X-Forwarded-Proto', {}],
    ['X-Forwarded-Proto: http', { 'X-Forwarded-Proto': 'http' }],
    ['the first proxy saying http', { 'X-Forwarded-Proto': 'http, https' }],
  ])(
    'refuses an https PUBLIC_URL request with %s: 500 insecure_transport, logged and counted',
    async (_name, headers) => {
      const f = fake({ env: HTTPS, headers });
      expect(await transport(f.ctx)).toBe(ANSWERED);
      expect(f.res.statusCode).toBe(500);
      expect(failureOf(f.res)).toBe('insecure_transport');
      expect(f.res.cookies).toEqual([]);
      expect(f.errors).toEqual([expect.stringContaining('X-Forwarded-Proto: https')]);
      expect(await logins(f.metrics, 'insecure_transport')).toBe(1);
    },
  );
});
