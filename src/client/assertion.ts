/** Verifying the relay's signed session assertion in a seller app (jose, ES256, keys by kid from JWKS). */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface RelayAssertion extends JWTPayload {
  tenant: { tenantId: string; tenantCode: string; name: string };
  user: {
    userName: string;
    name: string;
    role: 'user' | 'admin';
    orgCode: string;
    email: string | null;
    mobile: string | null;
  };
  appId: string;
}

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** Checks signature (by `kid` from the relay's JWKS), issuer, audience (the appId) and expiry. */
export async function verifyRelayAssertion(
  token: string,
  options: { relayUrl: string; appId: string; jwksUrl?: string },
): Promise<RelayAssertion> {
  const issuer = options.relayUrl.replace(/\/+$/, '');
  const jwksUrl = options.jwksUrl ?? `${issuer}/.well-known/jwks.json`;
  let jwks = jwksCache.get(jwksUrl);
  if (!jwks) jwksCache.set(jwksUrl, (jwks = createRemoteJWKSet(new URL(jwksUrl))));
  const { payload } = await jwtVerify(token, jwks, {
    issuer,
    audience: options.appId,
    algorithms: ['ES256'],
  });
  return payload as RelayAssertion;
}
