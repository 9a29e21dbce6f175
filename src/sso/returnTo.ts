/**
 * `returnTo` survives sign-in only as a same-origin relative path (contract §4). Anything a
 * browser could read as another origin is refused: protocol-relative `//host`, backslashes
 * (browsers treat `/\host` as `//host`), tabs and newlines (stripped by URL parsers, turning
 * `/\t/host` into `//host`), dot segments that resolve to `//host`, schemes, and encoded forms
 * of the same.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function safeReturnTo(value: unknown, origin: string): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\') || CONTROL.test(value))
    return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return null;
  }
  if (decoded.startsWith('//') || decoded.includes('\\') || CONTROL.test(decoded)) return null;
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return null;
  }
  if (url.origin !== new URL(origin).origin) return null;
  // Dot segments resolve only now: "/.//evil.com" becomes "//evil.com", and "/./%2F/evil.com"
  // an encoded one. Check the result, plain and decoded, too.
  if (url.pathname.startsWith('//') || url.pathname.includes('\\')) return null;
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
  if (path.startsWith('//') || path.includes('\\')) return null;
  // Back to the relay's sign-in routes would only loop (routes match case-insensitively).
  if (url.pathname.toLowerCase().startsWith('/sso/')) return null;
  // Re-serialized by the URL parser: non-ASCII and look-alike characters come out percent-encoded.
  return `${url.pathname}${url.search}${url.hash}`;
}
