/**
 * The relay's only way to a tenant's identity server (src/sso/idpFetch.ts): private addresses
 * refused on the address really connected to, unless the host is allowed, and answers read only
 * up to a cap after decompression. Against real local servers.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { idpFetch, isPrivateAddress } from '../../src/sso/idpFetch.js';
import { testEnv } from '../support/relay.js';

describe('private addresses', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.100.100.200',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    'fc00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
  ])('%s is refused', (address) => expect(isPrivateAddress(address)).toBe(true));
  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])(
    '%s is not',
    (address) => expect(isPrivateAddress(address)).toBe(false),
  );
});

describe('idpFetch against a local identity server', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  let answer: (res: ServerResponse) => void = (res) => res.end('{}');
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      answer(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const guarded = (allowedHosts: string[] = []) =>
    idpFetch({ refusePrivateAddresses: true, allowedHosts, maxResponseBytes: 1024 });
  const get = (f: ReturnType<typeof idpFetch>, url: string) => f(url, { method: 'GET', headers: {} });

  it('refuses a loopback address given literally, and a name that resolves to one, sending nothing', async () => {
    const before = hits;
    await expect(get(guarded(), `http://127.0.0.1:${port}/api/v1/oauth2/userinfo`)).rejects.toMatchObject({
      code: 'EIDP_ADDRESS_REFUSED',
      message: expect.stringMatching(/^127\.0\.0\.1:\d+ resolves to 127\.0\.0\.1, a loopback, private/),
    });
    await expect(get(guarded(), `http://localhost:${port}/api/v1/oauth2/userinfo`)).rejects.toMatchObject({
      code: 'EIDP_ADDRESS_REFUSED',
      message: expect.stringMatching(/IDP_ALLOWED_HOSTS/),
    });
    expect(hits).toBe(before);
  });

  it('connects where IDP_ALLOWED_HOSTS names the host or host:port, and anywhere outside production', async () => {
    for (const f of [
      guarded([`localhost:${port}`]),
      guarded(['LOCALHOST']),
      idpFetch({ refusePrivateAddresses: false, allowedHosts: [], maxResponseBytes: 1024 }),
    ]) {
      const res = await get(f, `http://localhost:${port}/x`);
      expect(res.status).toBe(200);
    }
    expect(
      (await get(guarded(['localhost:1']), `http://localhost:${port}/x`).catch((e: Error) => e)) instanceof
        Error,
    ).toBe(true);
  });

  it('reads an answer up to the cap after decompression, and refuses one beyond it', async () => {
    const open = idpFetch({ refusePrivateAddresses: false, allowedHosts: [], maxResponseBytes: 1024 });
    answer = (res) => {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Encoding', 'gzip');
      res.end(gzipSync(JSON.stringify({ userName: 'alice' })));
    };
    const small = await get(open, `http://127.0.0.1:${port}/userinfo`);
    expect(small.headers.get('content-type')).toBe('application/json');
    expect(small.headers.get('content-encoding')).toBeNull();
    expect(await small.json()).toEqual({ userName: 'alice' });

    answer = (res) => {
      res.setHeader('Content-Encoding', 'gzip');
      res.end(gzipSync(Buffer.alloc(5 * 1024 * 1024, 0x20)));
    };
    await expect(get(open, `http://127.0.0.1:${port}/userinfo`)).rejects.toThrow(
      "the identity server's answer exceeds 1024 bytes",
    );
    answer = (res) => res.end('x'.repeat(1025));
    await expect(get(open, `http://127.0.0.1:${port}/userinfo`)).rejects.toThrow(/exceeds 1024 bytes/);
    answer = (res) => res.end('{}');
  });

  it('sends the form body and headers openid-client gives it', async () => {
    let seen = '';
    answer = (res) => res.end('{}');
    const recorder = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = `${req.method} ${req.headers['content-type']} ${body}`;
        res.statusCode = 201;
        res.end();
      });
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/token`;
    const open = idpFetch({ refusePrivateAddresses: false, allowedHosts: [], maxResponseBytes: 1024 });
    const res = await open(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'c' }),
    });
    expect(res.status).toBe(201);
    expect(seen).toBe('POST application/x-www-form-urlencoded grant_type=authorization_code&code=c');
    await new Promise((resolve) => recorder.close(resolve));
  });
});

describe('configuration', () => {
  it('reads IDP_ALLOWED_HOSTS, and refuses what is not a host list', () => {
    expect(
      loadConfig(testEnv({ IDP_ALLOWED_HOSTS: 'IdP.Example.com:8443, 10.0.0.5' })).idpAllowedHosts,
    ).toEqual(['idp.example.com:8443', '10.0.0.5']);
    expect(() => loadConfig(testEnv({ IDP_ALLOWED_HOSTS: 'https://idp.example.com' }))).toThrow(
      /IDP_ALLOWED_HOSTS/,
    );
  });
});
