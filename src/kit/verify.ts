/**
 * Authentication of a call from the marketplace, for both kinds it signs: kit pushes carry
 * `x-sign`/`x-timestamp`/`x-nonce` headers (§2.2), basic instance calls carry
 * `signature`/`timestamp`/`nonce` in the query (§2.3). Checked in the order of Huawei's sample:
 * timestamp and nonce present (000002), timestamp in the window (000002), signature (000001).
 * The nonce is remembered afterwards, by the pipeline, only for calls whose signature holds.
 */
import { canonicalPayload, legacyCanonicalPayload } from './canonical.js';
import { decodeBody, parseObject } from './body.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import { basicSign, kitSign, signaturesMatch } from './signature.js';
import { checkCallTimestamp } from './timestamp.js';
import { checkV1Call, v1BasicScheme, v1KitScheme, type V1Query, type V1Scheme } from './v1Verify.js';

export interface SignedCall {
  sign?: string | undefined;
  timestamp?: string | undefined;
  nonce?: string | undefined;
  /** V1 calls made with GET: their parameters, from the query string (v1Verify.ts) */
  query?: V1Query | undefined;
}

/** How one kind of call is signed: with which key, by which rule, named how. */
export interface Scheme {
  readonly name: 'kit' | 'basic';
  readonly key: string;
  /** the credentials as the caller names them, for refusals */
  readonly names: { readonly sign: string; readonly timestamp: string; readonly nonce: string };
  /** `header` or `query parameter` */
  readonly where: string;
  readonly sign: (accessKey: string, nonce: string, timestamp: string, payload: string) => string;
  /** UNCONFIRMED (§2.3): the basic timestamp may be seconds in intl copies of the page. */
  readonly secondsAccepted: boolean;
}

export const kitScheme = (key: string): Scheme => ({
  name: 'kit',
  key,
  names: { sign: 'x-sign', timestamp: 'x-timestamp', nonce: 'x-nonce' },
  where: 'header',
  sign: kitSign,
  secondsAccepted: false,
});

export const basicScheme = (key: string): Scheme => ({
  name: 'basic',
  key,
  names: { sign: 'signature', timestamp: 'timestamp', nonce: 'nonce' },
  where: 'query parameter',
  sign: basicSign,
  secondsAccepted: true,
});

/** The three schemes of the signed-call pipeline: the two of V2 (above) and V1 (v1Verify.ts). */
export type AnyScheme = Scheme | V1Scheme;

/** A scheme as a worker thread can receive it (functions do not cross threads). */
export type SchemeData = Pick<Scheme, 'name' | 'key'> | V1Scheme;

export function schemeData(scheme: AnyScheme): SchemeData {
  return scheme.name === 'v1' ? scheme : { name: scheme.name, key: scheme.key };
}

export function schemeOf(data: SchemeData): AnyScheme {
  if (data.name === 'v1') return data.where === 'header' ? v1KitScheme(data.key) : v1BasicScheme(data.key);
  return data.name === 'kit' ? kitScheme(data.key) : basicScheme(data.key);
}

/** A call whose body was checked: its text and body, and what the body told of its signing (V1). */
export interface Checked {
  text: string;
  body: Record<string, unknown>;
  /** V1: the signed time, from `timeStamp` (V2 calls carry theirs in their credentials) */
  signedAt?: number;
  /** V1 basic calls: the token, which may be among the body's members */
  sign?: string;
}

/**
 * `checkCredentials` for any scheme: V1 has no credentials apart from its body (no timestamp
 * header, no nonce), so its signed time comes from `checkCall`.
 */
export function checkCallCredentials(
  scheme: AnyScheme,
  call: SignedCall,
  nowMs: number,
  windowMs: number,
): number | undefined {
  return scheme.name === 'v1' ? undefined : checkCredentials(scheme, call, nowMs, windowMs);
}

/** `checkSignedBody` for any scheme. Pure: it may run on the worker thread (offThread.ts). */
export function checkCall(scheme: AnyScheme, call: SignedCall, bytes: Uint8Array): Checked {
  return scheme.name === 'v1' ? checkV1Call(scheme, call, bytes) : checkSignedBody(scheme, call, bytes);
}

/**
 * `checkCall` on the worker thread (offThread.ts): the body's text, once its signature holds. A
 * V2 body is not parsed where its canonical form matches: the event loop parses it anyway.
 */
export function verifyCall(scheme: AnyScheme, call: SignedCall, bytes: Uint8Array): string {
  return scheme.name === 'v1'
    ? checkV1Call(scheme, call, bytes).text
    : verifySignedBody(scheme, call, bytes).text;
}

/** A body's text that the worker thread verified, read on the event loop without the signature. */
export function readVerifiedCall(scheme: AnyScheme, call: SignedCall, text: string): Checked {
  return scheme.name === 'v1' ? checkV1Call(scheme, call, text, false) : { text, body: parseObject(text) };
}

const NONCE = /^[\x21-\x7e]{1,128}$/;

/**
 * The cheap half of verification, on the request's credentials alone: the timestamp in the window
 * and a well-formed nonce (000002). Returns the signed time in epoch ms: the order of the calls.
 */
export function checkCredentials(scheme: Scheme, call: SignedCall, nowMs: number, windowMs: number): number {
  const { names, where } = scheme;
  const ts = checkCallTimestamp(call.timestamp, nowMs, {
    name: names.timestamp,
    where,
    windowMs,
    seconds: scheme.secondsAccepted,
  });
  if (!ts.ok) throw new KitRefusal(ResultCode.invalidRequest, ts.reason);
  if (!call.nonce) throw new KitRefusal(ResultCode.invalidRequest, `${names.nonce} ${where} is missing`);
  if (!NONCE.test(call.nonce))
    throw new KitRefusal(
      ResultCode.invalidRequest,
      `${names.nonce} must be 1 to 128 printable ASCII characters`,
    );
  return ts.epochMs;
}

/**
 * The costly half: the body's bytes are a JSON object (000002) and the signature matches it
 * (000001). Pure, so it may run off the event loop (offThread.ts) for large bodies.
 */
export function checkSignedBody(
  scheme: Scheme,
  call: SignedCall,
  bytes: Uint8Array,
): { text: string; body: Record<string, unknown> } {
  const { text, body } = verifySignedBody(scheme, call, bytes);
  return { text, body: body ?? parseObject(text) };
}

/**
 * `checkSignedBody` that parses the body only where it must: to say why a body that is not
 * canonical JSON is refused, and for the older signed form. Refusals are the same, in the same
 * order: parsing after a matching signature refuses what parsing before it would have.
 */
function verifySignedBody(
  scheme: Scheme,
  call: SignedCall,
  bytes: Uint8Array,
): { text: string; body?: Record<string, unknown> } {
  const text = decodeBody(bytes);
  // The canonical scan first: it stops at the 65th top-level member or the 1,001st level, where
  // JSON.parse would build the whole tree of a hostile body before anything could be refused.
  let payload: string | null = null;
  let refused = '';
  try {
    payload = canonicalPayload(text);
  } catch (error) {
    refused = (error as Error).message;
    if (!refused.startsWith('expected ')) throw new KitRefusal(ResultCode.invalidRequest, `body ${refused}`);
  }
  // Jackson's form is what the reference code signs; the older JSON.stringify form is fixed by
  // the same body and key, so it is accepted too (computed only when the first does not match).
  if (payload !== null && call.sign && signs(scheme, call, payload)) return { text };
  // Not JSON at all: JSON.parse says so as cheaply, at the same position.
  const body = parseObject(text);
  if (payload === null) throw new KitRefusal(ResultCode.invalidRequest, `body ${refused}`);
  const { names, where } = scheme;
  if (!call.sign) throw new KitRefusal(ResultCode.authFailed, `${names.sign} ${where} is missing`);
  if (!signs(scheme, call, legacyCanonicalPayload(body)))
    throw new KitRefusal(
      ResultCode.authFailed,
      `${names.sign} does not match the request (check the ${scheme.name} access key)`,
    );
  return { text, body };
}

const signs = (scheme: Scheme, call: SignedCall, payload: string) =>
  signaturesMatch(scheme.sign(scheme.key, call.nonce!, call.timestamp!, payload), call.sign!);
