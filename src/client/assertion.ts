/** Verifying the relay's signed session assertion in a seller app (jose, ES256, keys by kid from JWKS). */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { RelaySession } from './relayClient.js';

/** The claims: the session answer's `tenant`, `user`, `appId` and `instanceId`, and a fingerprint `sid`. */
export interface RelayAssertion
  extends JWTPayload, Pick<RelaySession, 'tenant' | 'user' | 'appId' | 'instanceId'> {
  sid: string;
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
