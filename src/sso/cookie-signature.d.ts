/**
 * cookie-signature 1.0.x, the version express-session 1.19 pins and the relay depends on with it
 * (sessionCookie.ts): the package ships no types, and these two calls are all the relay uses.
 */
declare module 'cookie-signature' {
  import type { BinaryLike, KeyObject } from 'node:crypto';

  /** `value.<base64 HMAC-SHA256 of value, without padding>` */
  export function sign(value: string, secret: BinaryLike | KeyObject): string;
  /** The value when the signature is the secret's, else false. */
  export function unsign(signed: string, secret: BinaryLike | KeyObject): string | false;
}
