/** fetch's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, certificate errors…). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    const detail =
      typeof code === 'string' && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
    const tls =
      typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED/.test(code)
        ? ' (KooGallery needs a certificate from a trusted CA)'
        : '';
    return `${error.message}: ${detail}${tls}`;
  }
  return error.message;
}
