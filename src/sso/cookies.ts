import type { CookieOptions } from 'express';
import type { Config } from '../config.js';

/**
 * Whether the relay's cookies are Secure: exactly when PUBLIC_URL is https, which also implies a
 * TLS-terminating proxy in front (express-session's `proxy`, transport.ts's check).
 */
export function secureCookies(config: Pick<Config, 'publicUrl'>): boolean {
  return config.publicUrl.protocol === 'https:';
}

/** The attributes every relay cookie shares; `path` scopes it (the pending cookie to /sso). */
export function relayCookie(config: Pick<Config, 'publicUrl'>, path: string): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure: secureCookies(config), path };
}

/** One cookie's value from a Cookie header; undefined when absent or not decodable. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
