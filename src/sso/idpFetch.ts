/**
 * The one way the relay reaches a tenant's identity server: openid-client's `customFetch`.
 *
 * A tenant's `domainName` comes from a marketplace push, so it names whatever host the push
 * says. In production the relay therefore refuses to connect to a loopback, private, link-local
 * or cloud-metadata address unless the host is listed in IDP_ALLOWED_HOSTS. The check is made on
 * the address the connection is really opened to (inside the socket's own DNS lookup), not on the
 * name, so a name that resolves to a public address when checked and to a private one when used
 * (DNS rebinding) is caught too. And an answer is read only up to `maxResponseBytes` after
 * decompression: token and userinfo answers are small, a hostile server's need not be.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';

/** Token and userinfo answers are a few hundred bytes; this leaves room and stops a flood. */
export const IDP_MAX_RESPONSE_BYTES = 256 * 1024;

export interface IdpFetchOptions {
  /** production: refuse loopback, private, link-local and metadata addresses */
  refusePrivateAddresses: boolean;
  /** IDP_ALLOWED_HOSTS: `host` or `host:port` exempt from that refusal */
  allowedHosts: readonly string[];
  maxResponseBytes: number;
}

/** What openid-client hands its customFetch. */
export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | ArrayBuffer | URLSearchParams | ReadableStream | null;
  signal?: AbortSignal;
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT, also Alibaba Cloud's metadata (100.100.100.200)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, with the AWS/GCP/Azure/Huawei metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local, with AWS's fd00:ec2::254
  ['fe80::', 10],
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** Whether `address` is one a tenant's identity server may not have. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class IdpAddressRefused extends Error {
  override readonly name = 'IdpAddressRefused';
  readonly code = 'EIDP_ADDRESS_REFUSED';
}

const refusal = (host: string, address: string) =>
  new IdpAddressRefused(
    `${host} resolves to ${address}, a loopback, private, link-local or metadata address; list the host in IDP_ALLOWED_HOSTS if it is meant`,
  );

/** A socket lookup that fails when any address of the name is refused. */
function guardedLookup(host: string): LookupFunction {
  return ((hostname: string, options: LookupAllOptions, callback: (...a: unknown[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error);
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(refusal(host, bad.address));
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}

export function idpFetch(o: IdpFetchOptions): (url: string, init: FetchInit) => Promise<Response> {
  const allowed = new Set(o.allowedHosts.map((h) => h.toLowerCase()));
  // Agents of its own: a kept-alive socket is reused only under the rules that opened it.
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const host = target.hostname.replace(/^\[|\]$/g, '');
      const guarded =
        o.refusePrivateAddresses &&
        !allowed.has(target.host.toLowerCase()) &&
        !allowed.has(host.toLowerCase());
      // An address literal is connected to without a lookup: checked here.
      if (guarded && isIP(host) && isPrivateAddress(host)) return reject(refusal(target.host, host));
      const secure = target.protocol === 'https:';
      const request = (secure ? https : http).request(target, {
        agent: secure ? agents.https : agents.http,
        method: init.method,
        headers: { ...init.headers, 'accept-encoding': 'gzip, deflate, br' },
        ...(guarded ? { lookup: guardedLookup(target.host) } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
      request.on('error', reject);
      request.on('response', (answer) => {
        readCapped(answer, o.maxResponseBytes).then((body) => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value === undefined || name === 'content-encoding' || name === 'content-length') continue;
            for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
          }
          const status = answer.statusCode ?? 502;
          const empty = status === 204 || status === 304;
          resolve(
            new Response(empty ? null : body, { status, statusText: answer.statusMessage ?? '', headers }),
          );
        }, reject);
      });
      const body = init.body;
      if (body === undefined || body === null) request.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) request.end(body);
      else if (body instanceof URLSearchParams) request.end(body.toString());
      else if (body instanceof ArrayBuffer) request.end(Buffer.from(body));
      else reject(new TypeError('identity server request: a streamed body is not supported'));
    });
}

/** The answer's bytes, decompressed, refused past `max`. */
function readCapped(answer: http.IncomingMessage, max: number): Promise<Buffer> {
  const encoding = String(answer.headers['content-encoding'] ?? '').toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : null;
  const stream: Readable = decoder ? answer.pipe(decoder) : answer;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: Error) => {
      answer.destroy();
      decoder?.destroy();
      reject(error);
    };
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) return fail(new Error(`the identity server's answer exceeds ${max} bytes`));
      chunks.push(chunk);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', fail);
    answer.on('error', fail);
  });
}
