/**
 * The seller API (`/api/v1`, contract §5) as an OpenAPI 3.1 document, served at
 * `GET /api/v1/openapi.json` without an API key: it is documentation, and holds no secret.
 * test/api/openapi.test.ts validates the relay's real answers against the schemas declared here,
 * so this file and the routes cannot drift apart silently.
 */
import express, { type Router } from 'express';

const json = 'application/json';
const errorRef = { $ref: '#/components/schemas/Error' } as const;
const apiKeyOnly =
  'No `Authorization: Bearer <one of SELLER_API_KEYS>` header, or a key that is not one of them (`unauthorized`).';

/** An error answer whose `error` code is one of `codes`. */
const errorAnswer = <const C extends readonly string[]>(description: string, codes: C) =>
  ({
    description,
    content: {
      [json]: {
        schema: { type: 'object', allOf: [errorRef], properties: { error: { enum: codes } } },
      },
    },
  }) as const;

const ref = <const N extends string>(name: N) => ({ $ref: `#/components/responses/${name}` }) as const;

const identifier = { type: 'string', minLength: 1, maxLength: 64 } as const;
const timestamp = {
  type: 'string',
  format: 'date-time',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$',
  description: 'ISO 8601, in UTC (`Z`).',
} as const;
const testFlag = {
  type: 'integer',
  enum: [0, 1],
  description: "1 for the marketplace's test (debug) records, 0 for real ones.",
} as const;
const role = { type: 'string', enum: ['user', 'admin'] } as const;

const sessionNaming = [
  { $ref: '#/components/parameters/SessionId' },
  { $ref: '#/components/parameters/Cookie' },
] as const;

const sessionGone =
  'The session is absent, expired, ended (signed out, or its refresh token was refused) or its user lost access to the app in the mirror (`no_session`).';

export const openApiDocument = {
  openapi: '3.1.0',
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  info: {
    title: 'KooGallery relay: seller-app API',
    version: '1.0.0',
    summary:
      "The seller app's server-side view of KooGallery sign-ins and of the mirrored tenants, users and departments.",
    description: [
      "The relay mirrors the KooGallery joint-operation (联营) data pushed to it (tenants, users authorized for the app, departments) and signs users in through their tenant's identity server. The seller's own **server** reads both here.",
      '',
      '**Authentication.** Every call carries `Authorization: Bearer <one of SELLER_API_KEYS>`; a missing or wrong key is 401 `{"error":"unauthorized"}` with a `WWW-Authenticate: Bearer` header. Only this document (`GET /api/v1/openapi.json`) is public.',
      '',
      '**Errors** are always JSON: `{"error":"<code>","message":"<sentence>"}`. Codes: `unauthorized`, `no_session`, `reauthenticate`, `invalid_request`, `invalid_ticket`, `not_found`, `idp_unavailable`, `store_unavailable`, `internal_error`. Any path or method not listed here answers 404 `not_found` (after the API-key check). A 500 `internal_error` message quotes the `reqId` of the relay\'s log line.',
      '',
      "**Naming a browser session.** The session routes find the signed-in browser session either from the browser's `Cookie` header, forwarded as is by the seller app (the relay's cookie, `relay.sid` unless `SESSION_COOKIE_NAME` says otherwise), or from `X-Session-Id` carrying the session id (the value the relay stores, e.g. from a ticket redemption; the signed cookie value `s:…` as the browser sent it is accepted too). When `X-Session-Id` is present it alone names the session, and the cookie is not consulted.",
      '',
      '**Authorization follows the mirror at once.** Every session answer re-checks the user against the mirror: when an `authSync` removes, disables or de-authorizes the user, or the tenant or application is deleted, the session stops being valid (401 `no_session`).',
      '',
      '**Times** (`expiresAt`) are ISO 8601 in UTC.',
    ].join('\n'),
  },
  servers: [{ url: '/api/v1', description: 'This relay (relative to where this document is served).' }],
  security: [{ sellerApiKey: [] }],
  tags: [
    { name: 'session', description: 'The signed-in browser session, its tokens and hand-offs.' },
    { name: 'mirror', description: 'Reads of the mirrored KooGallery data and the authorization decision.' },
    { name: 'meta', description: 'This document.' },
  ],
  paths: {
    '/openapi.json': {
      get: {
        tags: ['meta'],
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI document',
        description: 'Public: no API key needed.',
        security: [],
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 document of the seller API.',
            content: { [json]: { schema: { type: 'object', required: ['openapi', 'info', 'paths'] } } },
          },
        },
      },
    },
    '/session': {
      get: {
        tags: ['session'],
        operationId: 'getSession',
        summary: 'Who is signed in',
        description:
          "The session's user and tenant, as the mirror knows them now. Each read also slides the session's idle timeout (up to its absolute lifetime); `expiresAt` is when the session ends if left idle.",
        parameters: sessionNaming,
        responses: {
          '200': {
            description: 'The live session.',
            headers: { 'Cache-Control': { schema: { const: 'no-store' } } },
            content: { [json]: { schema: { $ref: '#/components/schemas/Session' } } },
          },
          '401': errorAnswer(`${apiKeyOnly} Or: ${sessionGone}`, ['unauthorized', 'no_session']),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
      delete: {
        tags: ['session'],
        operationId: 'endSession',
        summary: 'Sign the session out',
        description:
          "Ends the session and forgets its tokens. Idempotent: 204 also when there was no live session. The tenant identity server's own sign-in ends only in the browser (`/sso/logout`).",
        parameters: sessionNaming,
        responses: {
          '204': { description: 'The session is gone.' },
          '401': ref('Unauthorized'),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/session/token': {
      post: {
        tags: ['session'],
        operationId: 'getAccessToken',
        summary: "A valid access token for the tenant's identity server",
        description: [
          "The OAuth access token of the session, for calls to the tenant's identity server (e.g. `{domainName}/api/v1/oauth2/userinfo`).",
          '',
          '**Renewal.** When the stored token is within **5 minutes** of its expiry (or `forceRefresh` is true) the relay first renews it through the refresh token. Concurrent calls for one session, on any number of relay processes sharing the store, cause **one** refresh at the identity server, and all of them get the same new token; the rotated refresh token is kept.',
          '',
          'When the identity server refuses the refresh token the session ends and the answer is 401 `reauthenticate` (then and afterwards): send the user through `/sso/login` again.',
        ].join('\n'),
        parameters: sessionNaming,
        requestBody: {
          required: false,
          description: 'Optional; an absent body is `{}`.',
          content: { [json]: { schema: { $ref: '#/components/schemas/TokenRequest' } } },
        },
        responses: {
          '200': {
            description: 'The access token.',
            headers: { 'Cache-Control': { schema: { const: 'no-store' } } },
            content: { [json]: { schema: { $ref: '#/components/schemas/AccessToken' } } },
          },
          '400': errorAnswer(
            'The body is not valid JSON, or holds anything but `forceRefresh` (`invalid_request`).',
            ['invalid_request'],
          ),
          '401': errorAnswer(
            `${apiKeyOnly} Or: ${sessionGone} Or: the identity server refused the refresh token, now or earlier; the user must sign in again (\`reauthenticate\`).`,
            ['unauthorized', 'no_session', 'reauthenticate'],
          ),
          '413': ref('TooLarge'),
          '415': ref('UnsupportedBody'),
          '500': ref('InternalError'),
          '502': errorAnswer(
            "The tenant's identity server could not be reached, failed or was too slow while renewing (`idp_unavailable`); the session is kept, retry shortly.",
            ['idp_unavailable'],
          ),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/session/assertion': {
      post: {
        tags: ['session'],
        operationId: 'getAssertion',
        summary: 'A signed statement of the session, for another service',
        description: [
          "A short-lived **ES256** JWT describing the session, for a service that should trust the sign-in without calling the relay. Verify it with the relay's public keys at **`/.well-known/jwks.json`** (on the relay's origin, outside `/api/v1`; the header's `kid` names the key, keys rotate).",
          '',
          "Claims: `iss` the relay's `PUBLIC_URL`, `aud` the app's `KOO_APP_ID`, `sub` `\"<tenantId>:<userName>\"`, `iat`, `nbf`, `exp`, `jti`, and `appId`, `tenant`, `user`, `instanceId` as in the session answer, plus `sid`, a fingerprint of the session (not its id). `exp` is at most `ASSERTION_TTL_SECONDS` (300 by default) away and never after the session's own expiry. Any request body is ignored.",
        ].join('\n'),
        parameters: sessionNaming,
        responses: {
          '200': {
            description: 'The assertion.',
            headers: { 'Cache-Control': { schema: { const: 'no-store' } } },
            content: { [json]: { schema: { $ref: '#/components/schemas/Assertion' } } },
          },
          '401': errorAnswer(`${apiKeyOnly} Or: ${sessionGone}`, ['unauthorized', 'no_session']),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/session/ticket': {
      post: {
        tags: ['session'],
        operationId: 'redeemTicket',
        summary: 'Trade a hand-off ticket for the session (cross-origin apps)',
        description:
          'When the seller app lives on another origin than the relay (`HANDOFF_URL` is set), the sign-in callback sends the browser to `HANDOFF_URL?ticket=…&returnTo=…`. The app trades the ticket here, server to server, for the session id, which it then sends as `X-Session-Id`. A ticket is **single use** and lives **60 s**; a second redemption, an unknown or an expired ticket is 400 `invalid_ticket`.',
        requestBody: {
          required: true,
          content: { [json]: { schema: { $ref: '#/components/schemas/TicketRequest' } } },
        },
        responses: {
          '200': {
            description: 'The session id and the session.',
            headers: { 'Cache-Control': { schema: { const: 'no-store' } } },
            content: { [json]: { schema: { $ref: '#/components/schemas/TicketRedemption' } } },
          },
          '400': errorAnswer(
            'The body is not `{"ticket": "…"}` (`invalid_request`), or the ticket is unknown, already used or older than 60 s (`invalid_ticket`).',
            ['invalid_request', 'invalid_ticket'],
          ),
          '401': errorAnswer(`${apiKeyOnly} Or: the ticket was good but ${sessionGone}`, [
            'unauthorized',
            'no_session',
          ]),
          '413': ref('TooLarge'),
          '415': ref('UnsupportedBody'),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/authorize': {
      post: {
        tags: ['mirror'],
        operationId: 'authorize',
        summary: 'May this user use the app?',
        description:
          'Decided from the mirror alone: the tenant exists, the user is authorized for the app (`appId`, default `KOO_APP_ID`), enabled, and holds `role` when one is asked for (`admin` includes `user`). The answer is 200 whether allowed or not; `reason` says why.',
        requestBody: {
          required: true,
          content: { [json]: { schema: { $ref: '#/components/schemas/AuthorizeRequest' } } },
        },
        responses: {
          '200': {
            description: 'The decision.',
            content: { [json]: { schema: { $ref: '#/components/schemas/AuthorizeAnswer' } } },
          },
          '400': errorAnswer(
            'The body is not valid JSON or does not match `AuthorizeRequest` (`invalid_request`).',
            ['invalid_request'],
          ),
          '401': ref('Unauthorized'),
          '413': ref('TooLarge'),
          '415': ref('UnsupportedBody'),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/tenants/{tenantId}': {
      parameters: [{ $ref: '#/components/parameters/TenantId' }],
      get: {
        tags: ['mirror'],
        operationId: 'getTenant',
        summary: 'A mirrored tenant',
        responses: {
          '200': {
            description: 'The tenant (never a client secret).',
            content: { [json]: { schema: { $ref: '#/components/schemas/Tenant' } } },
          },
          '400': ref('InvalidIdentifier'),
          '401': ref('Unauthorized'),
          '404': errorAnswer('No such tenant in the mirror (`not_found`).', ['not_found']),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/instances/{instanceId}': {
      parameters: [
        {
          name: 'instanceId',
          in: 'path',
          required: true,
          schema: identifier,
          description: 'The instanceId the relay answered newInstance with.',
        },
      ],
      get: {
        tags: ['mirror'],
        operationId: 'getInstance',
        summary: 'An instance (purchase) and the tenants bound to it',
        responses: {
          '200': {
            description: 'The instance.',
            content: { [json]: { schema: { $ref: '#/components/schemas/Instance' } } },
          },
          '400': ref('InvalidIdentifier'),
          '401': ref('Unauthorized'),
          '404': errorAnswer('No such instance in the mirror (`not_found`).', ['not_found']),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/tenants/{tenantId}/users/{userName}': {
      parameters: [
        { $ref: '#/components/parameters/TenantId' },
        { $ref: '#/components/parameters/UserName' },
      ],
      get: {
        tags: ['mirror'],
        operationId: 'getUser',
        summary: 'A mirrored user of the app',
        description:
          'The user as the last `authSync` for `KOO_APP_ID` left them, including users that are disabled (`enable: false`) or whose authorization was cancelled (`authorized: false`). Users of other apps are 404.',
        responses: {
          '200': {
            description: 'The user.',
            content: { [json]: { schema: { $ref: '#/components/schemas/User' } } },
          },
          '400': ref('InvalidIdentifier'),
          '401': ref('Unauthorized'),
          '404': errorAnswer('No such user of this app in the tenant (`not_found`).', ['not_found']),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
    '/tenants/{tenantId}/departments': {
      parameters: [{ $ref: '#/components/parameters/TenantId' }],
      get: {
        tags: ['mirror'],
        operationId: 'listDepartments',
        summary: "The tenant's departments",
        description:
          "The tenant's current set of departments, ordered by `orgCode`; `parent` lists one level.",
        parameters: [
          {
            name: 'parent',
            in: 'query',
            required: false,
            description:
              'Only the departments directly under this `orgCode`; `?parent=` (empty) lists the top level (those whose `parentCode` is null). Given once.',
            schema: { type: 'string', maxLength: 64 },
          },
        ],
        responses: {
          '200': {
            description: 'The departments (an empty list when the tenant has none, or none under `parent`).',
            content: { [json]: { schema: { $ref: '#/components/schemas/Departments' } } },
          },
          '400': ref('InvalidIdentifier'),
          '401': ref('Unauthorized'),
          '404': errorAnswer('No such tenant in the mirror (`not_found`).', ['not_found']),
          '500': ref('InternalError'),
          '503': ref('StoreUnavailable'),
        },
      },
    },
  },
  components: {
    securitySchemes: {
      sellerApiKey: {
        type: 'http',
        scheme: 'bearer',
        description:
          "One of the relay's `SELLER_API_KEYS` (comma-separated in its configuration; every listed key is accepted, for rotation).",
      },
    },
    parameters: {
      SessionId: {
        name: 'X-Session-Id',
        in: 'header',
        required: false,
        description:
          'Names the session by its id (as stored by the relay, e.g. `sessionId` from a ticket redemption), or by the signed cookie value (`s:…`) as the browser sent it, URL-encoded or not. Takes precedence over `Cookie`.',
        schema: { type: 'string' },
      },
      Cookie: {
        name: 'Cookie',
        in: 'header',
        required: false,
        description:
          "The browser's `Cookie` header, forwarded unchanged by the seller app; the relay reads its own session cookie (`relay.sid` by default) from it. Used only when `X-Session-Id` is absent.",
        schema: { type: 'string' },
      },
      TenantId: {
        name: 'tenantId',
        in: 'path',
        required: true,
        description: 'The KooGallery tenant id.',
        schema: identifier,
      },
      UserName: {
        name: 'userName',
        in: 'path',
        required: true,
        description: "The user's `userName` in the tenant.",
        schema: identifier,
      },
    },
    responses: {
      Unauthorized: {
        description: apiKeyOnly,
        headers: {
          'WWW-Authenticate': {
            description: '`Bearer realm="relay"`, with `error="invalid_token"` for a wrong key.',
            schema: { type: 'string' },
          },
        },
        content: {
          [json]: {
            schema: { type: 'object', allOf: [errorRef], properties: { error: { const: 'unauthorized' } } },
          },
        },
      },
      InvalidIdentifier: errorAnswer(
        'A path identifier or `parent` is empty, longer than 64 characters or not decodable (`invalid_request`).',
        ['invalid_request'],
      ),
      TooLarge: errorAnswer('The body is larger than the route accepts (`invalid_request`).', [
        'invalid_request',
      ]),
      UnsupportedBody: errorAnswer(
        "The body's charset or content encoding is not supported; send UTF-8 JSON (`invalid_request`).",
        ['invalid_request'],
      ),
      InternalError: errorAnswer(
        "An unexpected failure in the relay; the message quotes the request's `reqId` (`internal_error`).",
        ['internal_error'],
      ),
      StoreUnavailable: errorAnswer(
        'The relay cannot reach its store right now; retry shortly (`store_unavailable`).',
        ['store_unavailable'],
      ),
      NotFound: errorAnswer('No such API route (`not_found`).', ['not_found']),
    },
    schemas: {
      Error: {
        type: 'object',
        description: 'Every error answer of the API.',
        required: ['error', 'message'],
        additionalProperties: false,
        properties: {
          error: {
            type: 'string',
            pattern: '^[a-z][a-z_]*$',
            description: 'A stable machine-readable code.',
          },
          message: { type: 'string', minLength: 1, description: 'A sentence for humans; may change.' },
        },
      },
      SessionUser: {
        type: 'object',
        required: ['userName', 'name', 'email', 'mobile', 'role', 'orgCode'],
        additionalProperties: false,
        properties: {
          userName: { type: 'string', minLength: 1 },
          name: {
            type: 'string',
            description: "From the mirror, else the identity server's profile, else `userName`.",
          },
          email: { type: ['string', 'null'] },
          mobile: { type: ['string', 'null'] },
          role,
          orgCode: { type: 'string' },
        },
      },
      SessionTenant: {
        type: 'object',
        required: ['tenantId', 'tenantCode', 'name'],
        additionalProperties: false,
        properties: {
          tenantId: { type: 'string', minLength: 1 },
          tenantCode: { type: 'string' },
          name: { type: 'string' },
        },
      },
      Session: {
        type: 'object',
        description: 'A live browser session, with the user and tenant as the mirror knows them now.',
        required: ['user', 'tenant', 'appId', 'instanceId', 'expiresAt'],
        additionalProperties: false,
        properties: {
          user: { $ref: '#/components/schemas/SessionUser' },
          tenant: { $ref: '#/components/schemas/SessionTenant' },
          appId: { type: 'string', minLength: 1 },
          instanceId: {
            type: ['string', 'null'],
            description: "The instance the user signed in to, else the tenant's first instance, else null.",
          },
          expiresAt: {
            ...timestamp,
            description:
              'When the session ends if left idle (never after its absolute lifetime). ISO 8601, in UTC.',
          },
        },
      },
      TokenRequest: {
        type: 'object',
        additionalProperties: false,
        properties: {
          forceRefresh: {
            type: 'boolean',
            default: false,
            description: 'Renew through the refresh token even if the access token is not near expiry.',
          },
        },
      },
      AccessToken: {
        type: 'object',
        required: ['accessToken', 'expiresAt'],
        additionalProperties: false,
        properties: {
          accessToken: { type: 'string', minLength: 1 },
          expiresAt: { ...timestamp, description: 'When the access token expires. ISO 8601, in UTC.' },
        },
      },
      Assertion: {
        type: 'object',
        required: ['assertion', 'expiresAt'],
        additionalProperties: false,
        properties: {
          assertion: {
            type: 'string',
            pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
            description: 'A compact JWS (ES256), verifiable with `/.well-known/jwks.json`.',
          },
          expiresAt: { ...timestamp, description: "The assertion's `exp`. ISO 8601, in UTC." },
        },
      },
      TicketRequest: {
        type: 'object',
        required: ['ticket'],
        additionalProperties: false,
        properties: {
          ticket: {
            type: 'string',
            minLength: 1,
            maxLength: 128,
            description: 'The `ticket` query parameter the browser brought to `HANDOFF_URL`.',
          },
        },
      },
      TicketRedemption: {
        type: 'object',
        required: ['sessionId', 'session'],
        additionalProperties: false,
        properties: {
          sessionId: { type: 'string', minLength: 1, description: 'Opaque; send it as `X-Session-Id`.' },
          session: { $ref: '#/components/schemas/Session' },
        },
      },
      AuthorizeRequest: {
        type: 'object',
        description: 'Other properties are ignored.',
        required: ['tenantId', 'userName'],
        properties: {
          tenantId: identifier,
          userName: identifier,
          appId: { ...identifier, description: "Default: the relay's `KOO_APP_ID`." },
          role: { ...role, description: 'Also require this role (`admin` includes `user`).' },
        },
      },
      AuthorizeAnswer: {
        type: 'object',
        required: ['allowed', 'reason'],
        additionalProperties: false,
        properties: {
          allowed: { type: 'boolean' },
          reason: {
            type: 'string',
            enum: [
              'ok',
              'tenant_unknown',
              'instance_frozen',
              'instance_released',
              'user_unknown',
              'not_authorized',
              'user_disabled',
              'role_missing',
            ],
            description:
              '`ok` when allowed; otherwise the first failing check: unknown tenant, the tenant blocked because all its known instances are frozen or released (`INSTANCE_GATING=on`), unknown user (for that app), authorization cancelled, user disabled, role missing.',
          },
          user: {
            $ref: '#/components/schemas/User',
            description:
              'The mirrored user, whenever the mirror knows them (never with `tenant_unknown` or `user_unknown`; with `instance_frozen` and `instance_released` when the user is known).',
          },
        },
        allOf: [
          {
            if: { properties: { allowed: { const: true } } },
            then: { required: ['user'], properties: { reason: { const: 'ok' } } },
            else: { properties: { reason: { not: { const: 'ok' } } } },
          },
          {
            if: { properties: { reason: { enum: ['tenant_unknown', 'user_unknown'] } } },
            then: { not: { required: ['user'] } },
          },
          {
            if: {
              properties: { reason: { enum: ['ok', 'not_authorized', 'user_disabled', 'role_missing'] } },
            },
            then: { required: ['user'] },
          },
        ],
      },
      Tenant: {
        type: 'object',
        description: 'A mirrored tenant (tenantSync). Never holds a client secret.',
        required: ['tenantId', 'tenantCode', 'name', 'domainName', 'testFlag', 'instanceIds', 'instances'],
        additionalProperties: false,
        properties: {
          tenantId: { type: 'string', minLength: 1 },
          tenantCode: { type: 'string' },
          name: { type: 'string' },
          domainName: {
            type: 'string',
            format: 'uri',
            description: "Base URL of the tenant's identity server (scheme included, no trailing slash).",
          },
          testFlag,
          instanceIds: {
            type: 'array',
            items: { type: 'string' },
            description:
              'The instances (subscriptions) the tenant holds for the app, as tenantSync named them.',
          },
          instances: {
            type: 'array',
            description:
              'The instances among them that the basic interfaces made known (a purchase the relay saw), by instanceId.',
            items: {
              type: 'object',
              required: ['instanceId', 'status', 'expireTime', 'productId'],
              additionalProperties: false,
              properties: {
                instanceId: { type: 'string', minLength: 1 },
                status: { $ref: '#/components/schemas/InstanceStatus' },
                expireTime: { $ref: '#/components/schemas/ExpireTime' },
                productId: { type: 'string' },
              },
            },
          },
        },
      },
      InstanceStatus: {
        type: 'string',
        enum: ['active', 'frozen', 'released'],
        description:
          '`frozen` after updateInstanceStatus FREEZE (until UNFREEZE), `released` after releaseInstance (final).',
      },
      ExpireTime: {
        type: ['string', 'null'],
        format: 'date-time',
        description: 'When the subscription ends (ISO 8601, UTC); null when the marketplace gave none.',
      },
      Instance: {
        type: 'object',
        description:
          'An instance (a purchase) as the basic interfaces made it, with the tenants bound to it.',
        required: [
          'instanceId',
          'orderId',
          'orderLineId',
          'productId',
          'status',
          'expireTime',
          'testFlag',
          'tenantIds',
          'createdAt',
          'updatedAt',
          'history',
        ],
        additionalProperties: false,
        properties: {
          instanceId: { type: 'string', minLength: 1, description: 'The first businessId of the purchase.' },
          orderId: { type: 'string', description: 'The purchase order.' },
          orderLineId: { type: 'string' },
          productId: { type: 'string', description: 'Empty when the marketplace named none.' },
          status: { $ref: '#/components/schemas/InstanceStatus' },
          expireTime: { $ref: '#/components/schemas/ExpireTime' },
          testFlag,
          tenantIds: {
            type: 'array',
            items: { type: 'string' },
            description: 'Tenants a tenantSync bound to this instance.',
          },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
          history: {
            type: 'array',
            description:
              'The newest changes (at most 100), oldest first; `at` is when the marketplace signed the call.',
            items: {
              type: 'object',
              required: ['activity', 'at'],
              additionalProperties: false,
              properties: {
                activity: {
                  type: 'string',
                  enum: [
                    'newInstance',
                    'refreshInstance',
                    'updateInstanceStatus',
                    'releaseInstance',
                    'upgradeInstance',
                  ],
                },
                at: { type: 'string', format: 'date-time' },
                orderId: { type: 'string' },
                orderLineId: { type: 'string' },
                scene: {
                  type: 'string',
                  enum: ['TRIAL_TO_FORMAL', 'RENEWAL', 'UNSUBSCRIBE_RENEWAL_PERIOD', 'RENEWAL_CHANGE'],
                },
                status: { $ref: '#/components/schemas/InstanceStatus' },
                expireTime: { $ref: '#/components/schemas/ExpireTime' },
                productId: { type: 'string' },
              },
            },
          },
        },
      },
      User: {
        type: 'object',
        description:
          'A mirrored user of an app (authSync), every field as last pushed; optional fields are absent when the marketplace sent none.',
        required: [
          'tenantId',
          'appId',
          'userName',
          'name',
          'orgCode',
          'role',
          'enable',
          'authorized',
          'instanceId',
          'testFlag',
          'currentSyncTime',
        ],
        additionalProperties: false,
        properties: {
          tenantId: { type: 'string', minLength: 1 },
          appId: { type: 'string', minLength: 1 },
          userName: { type: 'string', minLength: 1 },
          name: { type: 'string' },
          orgCode: { type: 'string', description: "The user's department (`Department.orgCode`)." },
          position: { type: 'string' },
          employeeCode: { type: 'string' },
          employeeType: { type: 'integer', enum: [1, 2, 3, 4] },
          role,
          enable: { type: 'boolean', description: 'false: the user is disabled in the tenant.' },
          mobile: { type: 'string' },
          email: { type: 'string' },
          workPlace: { type: 'string' },
          entryDate: { type: 'string' },
          extension: {
            type: 'object',
            additionalProperties: true,
            description:
              "The push's `extension` object as sent (may hold fields the relay does not interpret).",
          },
          authorized: {
            type: 'boolean',
            description: "false once an authSync cancelled the user's authorization (flag 3).",
          },
          instanceId: {
            type: 'string',
            description: 'The instance of the last push (may be empty on debug pushes).',
          },
          testFlag,
          currentSyncTime: {
            type: 'string',
            pattern: '^\\d{17}$',
            description: "The last applied push's `currentSyncTime`, `yyyyMMddHHmmssSSS` in UTC+8.",
          },
        },
      },
      Department: {
        type: 'object',
        required: ['orgCode', 'orgName', 'parentCode'],
        additionalProperties: false,
        properties: {
          orgCode: { type: 'string', minLength: 1 },
          orgName: { type: 'string' },
          parentCode: { type: ['string', 'null'], description: 'null for a top-level department.' },
        },
      },
      Departments: {
        type: 'object',
        required: ['departments'],
        additionalProperties: false,
        properties: {
          departments: { type: 'array', items: { $ref: '#/components/schemas/Department' } },
        },
      },
    },
  },
} as const;

export type OpenApiDocument = typeof openApiDocument;

/** `GET /openapi.json` (mounted under /api/v1, before the API-key check). */
export function openApiRouter(): Router {
  const body = JSON.stringify(openApiDocument);
  const router = express.Router();
  router.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type(json).send(body);
  });
  return router;
}
