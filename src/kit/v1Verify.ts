/**
 * Authentication of a V1 call (kit-sync-and-signing.md §7): the third scheme of the signed-call
 * pipeline, beside the V2 kit and basic schemes of verify.ts.
 *
 * A V1 call is a flat map of parameters: a kit push's JSON body (its `authToken` in a header),
 * or a basic call's query string (GET) or JSON body (POST), `authToken` among the parameters.
 * Its token (v1Token.ts) signs every parameter but itself with the V1 key + `timeStamp`. V1 has
 * no nonce and no clock window (§6: none is defined, none is enforced); what replaces them is in
 * replay.ts and docs/behaviour.md. Checked in this order: the token present (000001), the
 * parameters readable (000002), `timeStamp` present and a real time (000002), the token (000001).
 *
 * The parameters handed on are the signed ones: blank values (which the token skips) are dropped,
 * so a blank field added to a captured call can change nothing; and every value is the string
 * that was signed (a number `1` and a string `"1"` sign alike, so they must mean the same).
 */
import { decodeBody, parseObject } from './body.js';
import { MAX_TOP_LEVEL_MEMBERS } from './canonical.js';
import { KitRefusal, ResultCode } from './resultCodes.js';
import { fieldName } from './schemas.js';
import { parseExpireTime, parseSyncTime } from './timestamp.js';
import {
  AUTH_TOKEN,
  decodeQuery,
  isBlank,
  v1AuthToken,
  v1SignedString,
  v1TokensMatch,
  type V1Params,
} from './v1Token.js';

export interface V1Scheme {
  readonly name: 'v1';
  readonly key: string;
  /** where `authToken` arrives: the kit pushes' header, or among the basic calls' parameters */
  readonly where: 'header' | 'parameters';
  /** `timeStamp`'s zone, for the call's signed time: UTC+8 in kit bodies, UTC in basic calls (§6) */
  readonly zone: 'utc+8' | 'utc';
}

export const v1KitScheme = (key: string): V1Scheme => ({ name: 'v1', key, where: 'header', zone: 'utc+8' });
export const v1BasicScheme = (key: string): V1Scheme => ({
  name: 'v1',
  key,
  where: 'parameters',
  zone: 'utc',
});

/** A query string's parameters, URL-decoded; with a literal `+` kept too when the query has one. */
export interface V1Query {
  readonly decoded: V1Params;
  readonly plusKept: V1Params | null;
}

/** At most this many parameters, as the V2 canonical scan allows top-level members. */
export const MAX_V1_PARAMETERS = MAX_TOP_LEVEL_MEMBERS;

const refuse = (message: string) => new KitRefusal(ResultCode.invalidRequest, message);

/** The parameters of a raw query string (without `?`), or a refusal (000002). */
export function v1Query(raw: string): V1Query {
  const decoded = decodeQuery(raw);
  if (!decoded) throw refuse('the query string is not validly URL-encoded (UTF-8 %XX escapes)');
  unique(decoded);
  // A marketplace that left a Base64 "+" unencoded signed it as "+", which form decoding reads as
  // a space: both readings are tried (each is fixed by the request and the key).
  const plusKept = raw.includes('+') ? decodeQuery(raw, 'literal') : null;
  return { decoded, plusKept };
}

function unique(params: V1Params): void {
  if (params.length > MAX_V1_PARAMETERS) throw refuse(`more than ${MAX_V1_PARAMETERS} parameters`);
  const seen = new Set<string>();
  for (const [name] of params) {
    if (seen.has(name)) throw refuse(`parameter ${fieldName(name)} is repeated`);
    seen.add(name);
  }
}

export interface V1Call {
  /** the `authToken` header (kit pushes) */
  sign?: string | undefined;
  /** a GET's parameters; absent: they are the JSON body's members */
  query?: V1Query | undefined;
}

export interface V1Checked {
  /** the body's text ('' for a GET) */
  text: string;
  /** the signed parameters, blank ones dropped, authToken left out */
  body: Record<string, string>;
  /** epoch ms of `timeStamp` */
  signedAt: number;
  /** the token that was verified */
  sign: string;
}

/**
 * Checks a V1 call and returns its parameters. `received`: the body's bytes, or its text as the
 * worker thread read it (offThread.ts). `verify` false: the token was already checked there and
 * only the parameters are read again.
 */
export function checkV1Call(
  scheme: V1Scheme,
  call: V1Call,
  received: Uint8Array | string,
  verify = true,
): V1Checked {
  if (scheme.where === 'header' && !call.sign)
    throw new KitRefusal(ResultCode.authFailed, 'authToken header is missing');
  let text = '';
  let readings: V1Params[];
  if (call.query)
    readings = call.query.plusKept ? [call.query.decoded, call.query.plusKept] : [call.query.decoded];
  else {
    text = typeof received === 'string' ? received : decodeBody(received);
    readings = [bodyParameters(text)];
  }
  const first = new Map(readings[0]);
  // Base64 has no spaces: in a query, a space in the token is a "+" that was not encoded.
  const token = call.sign ?? (call.query ? first.get(AUTH_TOKEN)?.replace(/ /g, '+') : first.get(AUTH_TOKEN));
  if (!token)
    throw new KitRefusal(
      ResultCode.authFailed,
      scheme.where === 'header' ? 'authToken header is missing' : 'authToken parameter is missing',
    );
  const timeStamp = first.get('timeStamp');
  if (timeStamp === undefined || isBlank(timeStamp))
    throw refuse('timeStamp is missing; V1 signs with the key followed by timeStamp');
  const signedAt = scheme.zone === 'utc+8' ? parseSyncTime(timeStamp) : utcTime(timeStamp);
  if (signedAt === null)
    throw refuse(
      `timeStamp must be a real time as yyyyMMddHHmmssSSS (${scheme.zone === 'utc+8' ? 'UTC+8' : 'UTC'})`,
    );
  const matched = verify
    ? readings.find((params) => tokenMatches(scheme.key, timeStamp, params, token))
    : readings[0];
  if (!matched)
    throw new KitRefusal(
      ResultCode.authFailed,
      'authToken does not match the request (check V1_ACCESS_KEY: the token is keyed with it and timeStamp)',
    );
  const body: Record<string, string> = {};
  for (const [name, value] of matched) if (name !== AUTH_TOKEN && !isBlank(value)) body[name] = value;
  return { text, body, signedAt, sign: token };
}

/** The reference code skips blank values; sellers' GET samples sign them too: both are accepted. */
function tokenMatches(key: string, timeStamp: string, params: V1Params, token: string): boolean {
  const matches = (toSign: string) => v1TokensMatch(v1AuthToken(key, timeStamp, toSign), token);
  if (matches(v1SignedString(params))) return true;
  return params.some(([, v]) => isBlank(v)) && matches(v1SignedString(params, { keepBlank: true }));
}

/** A basic call's `timeStamp`: 17 digits, UTC (§6). */
function utcTime(value: string): number | null {
  return /^\d{17}$/.test(value) ? parseExpireTime(value) : null;
}

/** A JSON body's members as the reference code's map holds them: each value's `toString()`. */
function bodyParameters(text: string): V1Params {
  const params: [string, string][] = [];
  for (const [name, v] of Object.entries(parseObject(text))) {
    if (v === null) params.push([name, '']);
    else if (typeof v === 'string') params.push([name, v]);
    else if (typeof v === 'number' || typeof v === 'boolean') params.push([name, String(v)]);
    else throw refuse(`${fieldName(name)} must be a string: V1 sends lists and objects as JSON strings`);
  }
  unique(params);
  return params;
}
