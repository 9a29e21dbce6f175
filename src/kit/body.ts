/**
 * A signed call's body as bytes, read the same way by every scheme (verify.ts, v1Verify.ts): UTF-8,
 * then a JSON object, each refused with its own sentence (000002).
 */
import { KitRefusal, ResultCode } from './resultCodes.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeBody(bytes: Uint8Array): string {
  if (bytes.length === 0)
    throw new KitRefusal(ResultCode.invalidRequest, 'body is empty; a JSON object is required');
  try {
    return utf8.decode(bytes);
  } catch {
    throw new KitRefusal(ResultCode.invalidRequest, 'body is not valid UTF-8');
  }
}

export function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KitRefusal(ResultCode.invalidRequest, 'body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new KitRefusal(ResultCode.invalidRequest, 'body must be a JSON object');
  return value as Record<string, unknown>;
}
