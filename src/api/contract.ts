/**
 * The seller API (`/api/v1`, contract §5), declared once: every operation's method, path, words,
 * request parts and answers per status, as zod schemas. The routes are registered from it,
 * behind the API key unless `public` (apiRoutes.ts), and validate their requests with it
 * (guard.ts); the OpenAPI document is generated from it (openapi.ts), the client takes its types
 * from it (client/relayClient.ts, `import type` only) and test/api/openapi.test.ts checks every
 * real answer against it. Answers are not validated at run time: the tests do that.
 *
 * Schemas with an `id` become `components.schemas` of the document; `.meta({ description })` is
 * where the prose goes, and the description of an answer's schema is the answer's description.
 */
import { z } from 'zod';
import {
  AUTHORIZE_REASONS,
  EVENT_TYPES,
  INSTANCE_ACTIVITIES,
  INSTANCE_STATUSES,
  REFRESH_SCENES,
  ROLES,
  SESSION_END_REASONS,
  type AuthorizeReason,
} from '../vocabulary.js';

// ---------------------------------------------------------------------------------------------
// Shapes

const identifier = z.string().min(1).max(64);
const nonEmpty = z.string().min(1);
const timestamp = z.iso.datetime().meta({ description: 'ISO 8601, in UTC (`Z`).' });
const testFlag = z
  .literal([0, 1])
  .meta({ description: "1 for the marketplace's test (debug) records, 0 for real ones." });
const Role = z.enum(ROLES);

const ErrorBody = z
  .strictObject({
    error: z
      .string()
      .regex(/^[a-z][a-z_]*$/)
      .meta({ description: 'A stable machine-readable code.' }),
    message: nonEmpty.meta({ description: 'A sentence for humans; may change.' }),
  })
  .meta({ id: 'Error', description: 'Every error answer of the API.' });

/** An error answer whose `error` is one of `codes`; `description` says when it happens. */
const errorAnswer = <const C extends readonly [string, ...string[]]>(codes: C, description: string) =>
  ErrorBody.extend({ error: z.enum(codes) }).meta({ description });

const SessionUser = z
  .strictObject({
    userName: nonEmpty,
    name: z
      .string()
      .meta({ description: "From the mirror, else the identity server's profile, else `userName`." }),
    email: z.string().nullable(),
    mobile: z.string().nullable(),
    role: Role,
    orgCode: z.string(),
  })
  .meta({ id: 'SessionUser' });

const SessionTenant = z
  .strictObject({ tenantId: nonEmpty, tenantCode: z.string(), name: z.string() })
  .meta({ id: 'SessionTenant' });

const Session = z
  .strictObject({
    user: SessionUser,
    tenant: SessionTenant,
    appId: nonEmpty,
    instanceId: z.string().nullable().meta({
      description: "The instance the user signed in to, else the tenant's first instance, else null.",
    }),
    expiresAt: timestamp.meta({
      description:
        'When the session ends if left idle (never after its absolute lifetime). ISO 8601, in UTC.',
    }),
  })
  .meta({
    id: 'Session',
    description: 'A live browser session, with the user and tenant as the mirror knows them now.',
  });

const TokenRequest = z
  .strictObject({
    forceRefresh: z
      .boolean()
      .default(false)
      .meta({ description: 'Renew through the refresh token even if the access token is not near expiry.' }),
  })
  .meta({ id: 'TokenRequest' });

const AccessToken = z
  .strictObject({
    accessToken: nonEmpty,
    expiresAt: timestamp.meta({ description: 'When the access token expires. ISO 8601, in UTC.' }),
  })
  .meta({ id: 'AccessToken' });

const Assertion = z
  .strictObject({
    assertion: z
      .string()
      .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
      .meta({ description: 'A compact JWS (ES256), verifiable with `/.well-known/jwks.json`.' }),
    expiresAt: timestamp.meta({ description: "The assertion's `exp`. ISO 8601, in UTC." }),
  })
  .meta({ id: 'Assertion' });

const TicketRequest = z
  .strictObject({
    ticket: z
      .string()
      .min(1)
      .max(128)
      .meta({ description: 'The `ticket` query parameter the browser brought to `HANDOFF_URL`.' }),
  })
  .meta({ id: 'TicketRequest' });

const TicketRedemption = z
  .strictObject({
    sessionId: nonEmpty.meta({ description: 'Opaque; send it as `X-Session-Id`.' }),
    session: Session,
  })
  .meta({ id: 'TicketRedemption' });

const User = z
  .strictObject({
    tenantId: nonEmpty,
    appId: nonEmpty,
    userName: nonEmpty,
    name: z.string(),
    orgCode: z.string().meta({ description: "The user's department (`Department.orgCode`)." }),
    position: z.string().optional(),
    employeeCode: z.string().optional(),
    employeeType: z.literal([1, 2, 3, 4]).optional(),
    role: Role,
    enable: z.boolean().meta({ description: 'false: the user is disabled in the tenant.' }),
    mobile: z.string().optional(),
    email: z.string().optional(),
    workPlace: z.string().optional(),
    entryDate: z.string().optional(),
    extension: z.record(z.string(), z.unknown()).optional().meta({
      description: "The push's `extension` object as sent (may hold fields the relay does not interpret).",
    }),
    authorized: z
      .boolean()
      .meta({ description: "false once an authSync cancelled the user's authorization (flag 3)." }),
    instanceId: z
      .string()
      .meta({ description: 'The instance of the last push (may be empty on debug pushes).' }),
    testFlag,
    currentSyncTime: z
      .string()
      .regex(/^\d{17}$/)
      .meta({ description: "The last applied push's `currentSyncTime`, `yyyyMMddHHmmssSSS` in UTC+8." }),
  })
  .meta({
    id: 'User',
    description:
      'A mirrored user of an app (authSync), every field as last pushed; optional fields are absent when the marketplace sent none.',
  });

const AuthorizeRequest = z
  .object({
    tenantId: identifier,
    userName: identifier,
    appId: identifier.optional().meta({ description: "Default: the relay's `KOO_APP_ID`." }),
    role: Role.optional().meta({ description: 'Also require this role (`admin` includes `user`).' }),
  })
  .meta({ id: 'AuthorizeRequest', description: 'Other properties are ignored.' });

// The answer's five forms, by what its `reason` says of the user. Each reason of the mirror's one
// list goes in exactly one of them: a reason added there fails to compile here until it is placed.
const Reason = z.enum(AUTHORIZE_REASONS);
const unknownParty = Reason.extract(['tenant_unknown', 'user_unknown']);
const appGone = Reason.extract(['app_unknown']);
const blocked = Reason.extract(['instance_frozen', 'instance_released']);
const refused = Reason.extract(['not_authorized', 'user_disabled', 'role_missing']);
type Placed = 'ok' | z.output<typeof unknownParty | typeof appGone | typeof blocked | typeof refused>;
const _everyReasonPlaced: [AuthorizeReason] extends [Placed] ? true : never = true;

const AuthorizeAnswer = z
  .discriminatedUnion('reason', [
    z
      .strictObject({ allowed: z.literal(true), reason: z.literal('ok'), user: User })
      .meta({ description: 'Allowed.' }),
    z
      .strictObject({
        allowed: z.literal(false),
        reason: unknownParty,
        user: z.never().optional().meta({ description: 'Never present: the mirror does not know the user.' }),
      })
      .meta({ description: 'Unknown tenant, or unknown user (for that app).' }),
    z
      .strictObject({
        allowed: z.literal(false),
        reason: appGone,
        user: User.optional().meta({ description: 'Present when the mirror knows the user.' }),
      })
      .meta({
        description:
          "The tenant holds no credential for the app: applicationSync never sent it, or deleted it (`flag` 0). Its users cannot sign in, and the sessions of the tenant's users end.",
      }),
    z
      .strictObject({
        allowed: z.literal(false),
        reason: blocked,
        user: User.optional().meta({ description: 'Present when the mirror knows the user.' }),
      })
      .meta({
        description:
          'The tenant is blocked because all its known instances are frozen or released (`INSTANCE_GATING=on`).',
      }),
    z
      .strictObject({ allowed: z.literal(false), reason: refused, user: User })
      .meta({ description: 'Authorization cancelled, user disabled, or role missing.' }),
  ])
  .meta({
    id: 'AuthorizeAnswer',
    description:
      '`reason` is `ok` when allowed; otherwise the first failing check, in this order: unknown tenant, no credential for the app in the tenant (`app_unknown`), the tenant blocked, unknown user (for that app), authorization cancelled, user disabled, role missing. `user` is the mirrored user, whenever the mirror knows them.',
  });

const InstanceStatus = z.enum(INSTANCE_STATUSES).meta({
  id: 'InstanceStatus',
  description:
    '`frozen` after updateInstanceStatus FREEZE (until UNFREEZE), `released` after releaseInstance (final).',
});

const ExpireTime = z.iso.datetime().nullable().meta({
  id: 'ExpireTime',
  description: 'When the subscription ends (ISO 8601, UTC); null when the marketplace gave none.',
});

const InstanceActivities = z.enum(INSTANCE_ACTIVITIES);

const Tenant = z
  .strictObject({
    tenantId: nonEmpty,
    tenantCode: z.string(),
    name: z.string(),
    domainName: z.url().meta({
      description: "Base URL of the tenant's identity server (scheme included, no trailing slash).",
    }),
    testFlag,
    instanceIds: z.array(z.string()).meta({
      description: 'The instances (subscriptions) the tenant holds for the app, as tenantSync named them.',
    }),
    instances: z
      .array(
        z.strictObject({
          instanceId: nonEmpty,
          status: InstanceStatus,
          expireTime: ExpireTime,
          productId: z.string(),
        }),
      )
      .meta({
        description:
          'The instances among them that the basic interfaces made known (a purchase the relay saw), by instanceId.',
      }),
  })
  .meta({ id: 'Tenant', description: 'A mirrored tenant (tenantSync). Never holds a client secret.' });

const Instance = z
  .strictObject({
    instanceId: nonEmpty.meta({ description: 'The first businessId of the purchase.' }),
    orderId: z.string().meta({ description: 'The purchase order.' }),
    orderLineId: z.string(),
    productId: z.string().meta({ description: 'Empty when the marketplace named none.' }),
    status: InstanceStatus,
    expireTime: ExpireTime,
    testFlag,
    tenantIds: z.array(z.string()).meta({ description: 'Tenants a tenantSync bound to this instance.' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    history: z
      .array(
        z.strictObject({
          activity: InstanceActivities,
          at: z.iso.datetime(),
          orderId: z.string().optional(),
          orderLineId: z.string().optional(),
          scene: z.enum(REFRESH_SCENES).optional(),
          status: InstanceStatus.optional(),
          expireTime: ExpireTime.optional(),
          productId: z.string().optional(),
        }),
      )
      .meta({
        description:
          'The newest changes (at most 100), oldest first; `at` is when the marketplace signed the call.',
      }),
  })
  .meta({
    id: 'Instance',
    description: 'An instance (a purchase) as the basic interfaces made it, with the tenants bound to it.',
  });

const Department = z
  .strictObject({
    orgCode: nonEmpty,
    orgName: z.string(),
    parentCode: z.string().nullable().meta({ description: 'null for a top-level department.' }),
  })
  .meta({ id: 'Department' });

const Departments = z.strictObject({ departments: z.array(Department) }).meta({ id: 'Departments' });

// The change feed (§5b): each event type with the shape of its `data`.

const EventId = z
  .string()
  .regex(/^\d{1,16}-\d{1,16}$/)
  // Both parts within JavaScript's safe integers, as every real id is (ms since 1970, a count).
  .refine((id) => id.split('-').every((n) => Number.isSafeInteger(Number(n))), 'is not an event id')
  .meta({
    id: 'EventId',
    description:
      'An event id, `<ms>-<n>`: ids grow in the order the feed serves events. Opaque: use it only as `after`.',
  });

const SessionRef = z.string().meta({
  description:
    "The session's fingerprint (the `sid` claim of the relay's assertions), never the session id itself.",
});

const eventData = {
  instance: Instance.omit({ history: true }).meta({
    id: 'InstanceEventData',
    description: 'The instance after the change (without its history).',
  }),
  tenant: Tenant.omit({ instances: true }).meta({
    id: 'TenantEventData',
    description: 'The tenant after the change.',
  }),
  tenantDeleted: z.strictObject({ tenantId: nonEmpty }).meta({
    description: 'The tenant is gone, and everything of it with it: apps, users, departments.',
  }),
  app: z
    .strictObject({
      tenantId: nonEmpty,
      appId: nonEmpty,
      clientId: z.string(),
      testFlag,
      instanceIds: z.array(z.string()),
    })
    .meta({
      id: 'AppEventData',
      description: "The tenant's app credential after the change, never its secret.",
    }),
  appDeleted: z.strictObject({ tenantId: nonEmpty, appId: nonEmpty }),
  user: User,
  userRemoved: z.strictObject({ tenantId: nonEmpty, appId: nonEmpty, userName: nonEmpty }),
  department: Department,
  departmentDeleted: z.strictObject({ orgCode: nonEmpty }),
  departments: Departments.meta({ description: "The tenant's whole set of departments after a full sync." }),
  sessionStarted: z.strictObject({
    appId: nonEmpty,
    userName: nonEmpty,
    sessionRef: SessionRef,
    instanceId: z.string().nullable(),
  }),
  sessionEnded: z.strictObject({
    appId: nonEmpty,
    userName: nonEmpty,
    sessionRef: SessionRef,
    reason: z.enum(SESSION_END_REASONS).meta({
      description:
        '`logout`: the user signed out; `deleted`: the seller app ended it (`DELETE /session`); `revoked`: the mirror took the user or the app away, the tenant was blocked or deleted, or the identity server refused the refresh token. A session that expires makes no event.',
    }),
  }),
} as const;

/** Each event type's `data`, written once: the events' schema and the feed's docs come from it. */
const dataOf = {
  'instance.created': eventData.instance,
  'instance.renewed': eventData.instance,
  'instance.upgraded': eventData.instance,
  'instance.frozen': eventData.instance,
  'instance.unfrozen': eventData.instance,
  'instance.released': eventData.instance,
  'tenant.created': eventData.tenant,
  'tenant.updated': eventData.tenant,
  'tenant.deleted': eventData.tenantDeleted,
  'app.credentials_updated': eventData.app,
  'app.deleted': eventData.appDeleted,
  'user.added': eventData.user,
  'user.updated': eventData.user,
  'user.deauthorized': eventData.user,
  'user.disabled': eventData.user,
  'user.removed': eventData.userRemoved,
  'department.created': eventData.department,
  'department.updated': eventData.department,
  'department.deleted': eventData.departmentDeleted,
  'departments.replaced': eventData.departments,
  'session.started': eventData.sessionStarted,
  'session.ended': eventData.sessionEnded,
} satisfies Record<(typeof EVENT_TYPES)[number], z.ZodType>;

const eventOf = <T extends keyof typeof dataOf>(type: T) =>
  z.strictObject({
    id: EventId,
    type: z.literal(type),
    occurredAt: timestamp,
    tenantId: z.string().nullable().meta({
      description:
        'The tenant the change belongs to; for an instance event, the first tenant bound to the instance (all are in `data.tenantIds`), null while none is.',
    }),
    data: dataOf[type],
  });

/** One schema per type, so the event's TypeScript type is a union that `type` narrows. */
type EventSchema = {
  [T in (typeof EVENT_TYPES)[number]]: ReturnType<typeof eventOf<T>>;
}[(typeof EVENT_TYPES)[number]];

export const RelayEvent = z
  .discriminatedUnion(
    'type',
    EVENT_TYPES.map((t) => eventOf(t)) as unknown as [EventSchema, ...EventSchema[]],
  )
  .meta({
    id: 'Event',
    description:
      'One change of the mirror, or one session started or ended, as `GET /events` lists it and as a webhook delivers it.',
  });

const EventPage = z
  .strictObject({
    events: z.array(RelayEvent),
    next: EventId.meta({
      description:
        'Where to read on: pass it as `after`. Reading from it never skips or repeats an event, even when `events` is empty or filtered.',
    }),
  })
  .meta({ id: 'EventPage' });

// ---------------------------------------------------------------------------------------------
// Request parts

/** Parameters shared by several operations, by their name under `components.parameters`. */
export const sharedParameters = z.registry<{ component: string }>();

const TenantIdParam = identifier
  .meta({ description: 'The KooGallery tenant id.' })
  .register(sharedParameters, { component: 'TenantId' });
const UserNameParam = identifier
  .meta({ description: "The user's `userName` in the tenant." })
  .register(sharedParameters, { component: 'UserName' });

/** How the session routes are told which browser session is meant. */
const sessionNaming = z.object({
  'X-Session-Id': z
    .string()
    .optional()
    .meta({
      description:
        'Names the session by its id (as stored by the relay, e.g. `sessionId` from a ticket redemption), or by the signed cookie value (`s:…`) as the browser sent it, URL-encoded or not. Takes precedence over `Cookie`.',
    })
    .register(sharedParameters, { component: 'SessionId' }),
  Cookie: z
    .string()
    .optional()
    .meta({
      description:
        "The browser's `Cookie` header, forwarded unchanged by the seller app; the relay reads its own session cookie (`relay.sid` by default) from it. Used only when `X-Session-Id` is absent.",
    })
    .register(sharedParameters, { component: 'Cookie' }),
});

// ---------------------------------------------------------------------------------------------
// Answers

export interface Reply {
  /** The body; its `.meta()` description is the answer's. `z.undefined()`: the answer has no body. */
  schema: z.ZodType;
  /** Response headers the answer always carries. */
  headers?: z.ZodObject;
  /** Shared by several operations: its name under `components.responses`. */
  component?: string;
}

const reply = <const S extends z.ZodType, const R extends Omit<Reply, 'schema'> = object>(
  schema: S,
  more?: R,
) => ({ schema, ...more }) as { schema: S } & R;

const noStore = z.object({ 'Cache-Control': z.literal('no-store') });

const apiKeyOnly =
  'No `Authorization: Bearer <one of SELLER_API_KEYS>` header, or a key that is not one of them (`unauthorized`).';
const sessionGone =
  "The session is absent, expired, ended (signed out, or its refresh token was refused) or its user lost access to the app in the mirror, the tenant's app credential included (`no_session`).";

const unauthorized = reply(errorAnswer(['unauthorized'], apiKeyOnly), {
  component: 'Unauthorized',
  headers: z.object({
    'WWW-Authenticate': z
      .string()
      .meta({ description: '`Bearer realm="relay"`, with `error="invalid_token"` for a wrong key.' }),
  }),
});
const invalidIdentifier = reply(
  errorAnswer(
    ['invalid_request'],
    'A path identifier or `parent` is empty, longer than 64 characters or not decodable (`invalid_request`).',
  ),
  { component: 'InvalidIdentifier' },
);
const tooLarge = reply(
  errorAnswer(['invalid_request'], 'The body is larger than the route accepts (`invalid_request`).'),
  { component: 'TooLarge' },
);
const unsupportedBody = reply(
  errorAnswer(
    ['invalid_request'],
    "The body's charset or content encoding is not supported; send UTF-8 JSON (`invalid_request`).",
  ),
  { component: 'UnsupportedBody' },
);
const internalError = reply(
  errorAnswer(
    ['internal_error'],
    "An unexpected failure in the relay; the message quotes the request's `reqId` (`internal_error`).",
  ),
  { component: 'InternalError' },
);
const storeUnavailable = reply(
  errorAnswer(
    ['store_unavailable'],
    'The relay cannot reach its store right now; retry shortly (`store_unavailable`).',
  ),
  { component: 'StoreUnavailable' },
);
const retryAfter = z.object({
  'Retry-After': z
    .string()
    .regex(/^[1-9]\d*$/)
    .meta({ description: 'Seconds until the limit lets the caller through again.' }),
});
const keyFailures =
  'Too many requests with a missing or wrong API key from this address this minute (`rate_limited`, `RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE`); a request with a correct key is never limited.';
const rateLimited = reply(errorAnswer(['rate_limited'], keyFailures), {
  component: 'RateLimited',
  headers: retryAfter,
});
/** Any path or method that is not an operation (after the API-key check). */
export const unknownRoute = reply(errorAnswer(['not_found'], 'No such API route (`not_found`).'), {
  component: 'NotFound',
});

const sessionAnswer = <S extends z.ZodType>(schema: S, description: string) =>
  reply(schema.meta({ description }), { headers: noStore });
const sessionLost = reply(errorAnswer(['unauthorized', 'no_session'], `${apiKeyOnly} Or: ${sessionGone}`));
const notFound = (what: string) => reply(errorAnswer(['not_found'], `${what} (\`not_found\`).`));

// ---------------------------------------------------------------------------------------------
// Operations

export type Tag = 'session' | 'mirror' | 'events' | 'meta';

export interface OperationDef {
  method: 'get' | 'post' | 'delete';
  /** Below `/api/v1`, with `{name}` for path parameters. */
  path: `/${string}`;
  tags: readonly Tag[];
  summary: string;
  description?: string;
  /** `public`: no API key needed. Every other operation needs one. */
  security?: 'public';
  request?: {
    params?: z.ZodObject;
    query?: z.ZodObject;
    /** Documented only: a header is a string or absent, and the routes read them as they are. */
    headers?: z.ZodObject;
    /** `.optional()` when the body may be left out; its `.meta()` description is the body's. */
    body?: z.ZodType;
    /** What a refused request is told; by default, the first problem and where it is. */
    invalid?: string;
  };
  responses: Readonly<Record<number, Reply>>;
}

const define = <const O extends Record<string, OperationDef>>(operations: O) => operations;

/** Every operation of the seller API, by operationId. */
export const operations = define({
  getOpenApiDocument: {
    method: 'get',
    path: '/openapi.json',
    tags: ['meta'],
    summary: 'This OpenAPI document',
    description: 'Public: no API key needed.',
    security: 'public',
    responses: {
      200: reply(
        z
          .looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) })
          .meta({ description: 'The OpenAPI 3.1 document of the seller API.' }),
      ),
    },
  },
  getSession: {
    method: 'get',
    path: '/session',
    tags: ['session'],
    summary: 'Who is signed in',
    description:
      "The session's user and tenant, as the mirror knows them now. Each read also slides the session's idle timeout (up to its absolute lifetime); `expiresAt` is when the session ends if left idle.",
    request: { headers: sessionNaming },
    responses: {
      200: sessionAnswer(Session, 'The live session.'),
      401: sessionLost,
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  endSession: {
    method: 'delete',
    path: '/session',
    tags: ['session'],
    summary: 'Sign the session out',
    description:
      "Ends the session and forgets its tokens. Idempotent: 204 also when there was no live session. The tenant identity server's own sign-in ends only in the browser (`/sso/logout`).",
    request: { headers: sessionNaming },
    responses: {
      204: reply(z.undefined().meta({ description: 'The session is gone.' })),
      401: unauthorized,
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  getAccessToken: {
    method: 'post',
    path: '/session/token',
    tags: ['session'],
    summary: "A valid access token for the tenant's identity server",
    description: [
      "The OAuth access token of the session, for calls to the tenant's identity server (e.g. `{domainName}/api/v1/oauth2/userinfo`).",
      '',
      '**Renewal.** When the stored token is within **5 minutes** of its expiry (or `forceRefresh` is true) the relay first renews it through the refresh token. Concurrent calls for one session, on any number of relay processes sharing the store, cause **one** refresh at the identity server, and all of them get the same new token; the rotated refresh token is kept.',
      '',
      'When the identity server refuses the refresh token the session ends and the answer is 401 `reauthenticate` (then and afterwards): send the user through `/sso/login` again.',
    ].join('\n'),
    request: {
      headers: sessionNaming,
      body: TokenRequest.optional().meta({ description: 'Optional; an absent body is `{}`.' }),
      invalid: 'The body may only hold {"forceRefresh": true|false}.',
    },
    responses: {
      200: sessionAnswer(AccessToken, 'The access token.'),
      400: reply(
        errorAnswer(
          ['invalid_request'],
          'The body is not valid JSON, or holds anything but `forceRefresh` (`invalid_request`).',
        ),
      ),
      401: reply(
        errorAnswer(
          ['unauthorized', 'no_session', 'reauthenticate'],
          `${apiKeyOnly} Or: ${sessionGone} Or: the identity server refused the refresh token, now or earlier; the user must sign in again (\`reauthenticate\`).`,
        ),
      ),
      413: tooLarge,
      415: unsupportedBody,
      429: reply(
        errorAnswer(
          ['rate_limited'],
          `${keyFailures} Or: the tenant's identity server has had too many calls from the relay this minute (\`rate_limited\`, \`RATE_LIMIT_IDP_CALLS_PER_MINUTE\`); the session is kept, retry after \`Retry-After\`.`,
        ),
        { headers: retryAfter },
      ),
      500: internalError,
      502: reply(
        errorAnswer(
          ['idp_unavailable'],
          "The tenant's identity server could not be reached, failed or was too slow while renewing (`idp_unavailable`); the session is kept, retry shortly.",
        ),
      ),
      503: storeUnavailable,
    },
  },
  getAssertion: {
    method: 'post',
    path: '/session/assertion',
    tags: ['session'],
    summary: 'A signed statement of the session, for another service',
    description: [
      "A short-lived **ES256** JWT describing the session, for a service that should trust the sign-in without calling the relay. Verify it with the relay's public keys at **`/.well-known/jwks.json`** (on the relay's origin, outside `/api/v1`; the header's `kid` names the key, keys rotate).",
      '',
      "Claims: `iss` the relay's `PUBLIC_URL`, `aud` the app's `KOO_APP_ID`, `sub` `\"<tenantId>:<userName>\"`, `iat`, `nbf`, `exp`, `jti`, and `appId`, `tenant`, `user`, `instanceId` as in the session answer, plus `sid`, a fingerprint of the session (not its id). `exp` is at most `ASSERTION_TTL_SECONDS` (300 by default) away and never after the session's own expiry. Any request body is ignored.",
    ].join('\n'),
    request: { headers: sessionNaming },
    responses: {
      200: sessionAnswer(Assertion, 'The assertion.'),
      401: sessionLost,
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  redeemTicket: {
    method: 'post',
    path: '/session/ticket',
    tags: ['session'],
    summary: 'Trade a hand-off ticket for the session (cross-origin apps)',
    description:
      'When the seller app lives on another origin than the relay (`HANDOFF_URL` is set), the sign-in callback sends the browser to `HANDOFF_URL?ticket=…&returnTo=…`. The app trades the ticket here, server to server, for the session id, which it then sends as `X-Session-Id`. A ticket is **single use** and lives **60 s**; a second redemption, an unknown or an expired ticket is 400 `invalid_ticket`.',
    request: {
      body: TicketRequest,
      invalid: 'The body must be {"ticket": "<the ticket from the callback>"}.',
    },
    responses: {
      200: sessionAnswer(TicketRedemption, 'The session id and the session.'),
      400: reply(
        errorAnswer(
          ['invalid_request', 'invalid_ticket'],
          'The body is not `{"ticket": "…"}` (`invalid_request`), or the ticket is unknown, already used or older than 60 s (`invalid_ticket`).',
        ),
      ),
      401: reply(
        errorAnswer(
          ['unauthorized', 'no_session'],
          `${apiKeyOnly} Or: the ticket was good but ${sessionGone}`,
        ),
      ),
      413: tooLarge,
      415: unsupportedBody,
      429: reply(
        errorAnswer(
          ['rate_limited'],
          `${keyFailures} Or: too many redemptions from this address were refused this minute (\`rate_limited\`, \`RATE_LIMIT_TICKET_FAILURES_PER_MINUTE\`); until \`Retry-After\` has passed every redemption from it is refused, good tickets included.`,
        ),
        { headers: retryAfter },
      ),
      500: internalError,
      503: storeUnavailable,
    },
  },
  authorize: {
    method: 'post',
    path: '/authorize',
    tags: ['mirror'],
    summary: 'May this user use the app?',
    description:
      'Decided from the mirror alone: the tenant exists and holds the credential of the app (`appId`, default `KOO_APP_ID`; applicationSync), the user is authorized for the app, enabled, and holds `role` when one is asked for (`admin` includes `user`). The answer is 200 whether allowed or not; `reason` says why.',
    request: { body: AuthorizeRequest },
    responses: {
      200: reply(AuthorizeAnswer.meta({ description: 'The decision.' })),
      400: reply(
        errorAnswer(
          ['invalid_request'],
          'The body is not valid JSON or does not match `AuthorizeRequest` (`invalid_request`).',
        ),
      ),
      401: unauthorized,
      413: tooLarge,
      415: unsupportedBody,
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  getTenant: {
    method: 'get',
    path: '/tenants/{tenantId}',
    tags: ['mirror'],
    summary: 'A mirrored tenant',
    request: { params: z.object({ tenantId: TenantIdParam }) },
    responses: {
      200: reply(Tenant.meta({ description: 'The tenant (never a client secret).' })),
      400: invalidIdentifier,
      401: unauthorized,
      404: notFound('No such tenant in the mirror'),
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  getInstance: {
    method: 'get',
    path: '/instances/{instanceId}',
    tags: ['mirror'],
    summary: 'An instance (purchase) and the tenants bound to it',
    request: {
      params: z.object({
        instanceId: identifier.meta({ description: 'The instanceId the relay answered newInstance with.' }),
      }),
    },
    responses: {
      200: reply(Instance.meta({ description: 'The instance.' })),
      400: invalidIdentifier,
      401: unauthorized,
      404: notFound('No such instance in the mirror'),
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  listEvents: {
    method: 'get',
    path: '/events',
    tags: ['events'],
    summary: 'The change feed',
    description:
      'Every change the relay made to the mirror, and every session it started or ended, in order, from the cursor `after`. Order is guaranteed within a tenant; across tenants events are listed in the order they were written to the feed (on a Redis Cluster, within milliseconds of their change). Events are kept `EVENTS_RETENTION_HOURS` (168 by default). With `wait`, the request is held open until an event arrives or the time is up.',
    request: {
      query: z.object({
        after: EventId.optional().meta({
          description:
            'The `next` of the previous page (or an event id). Omitted: from the oldest event kept.',
        }),
        limit: z.coerce
          .number()
          .int()
          .min(1)
          .max(500)
          .default(100)
          .meta({ description: 'At most this many events.' }),
        wait: z.coerce
          .number()
          .min(0)
          .max(30)
          .default(0)
          .meta({ description: 'Seconds to wait for an event when there is none yet (long poll).' }),
        types: z
          .string()
          .optional()
          .transform((v, ctx) => {
            if (v === undefined) return undefined;
            const list = v.split(',').filter(Boolean);
            const unknown = list.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
            if (unknown !== undefined) {
              ctx.addIssue({ code: 'custom', message: `unknown event type ${JSON.stringify(unknown)}` });
              return z.NEVER;
            }
            return list as (typeof EVENT_TYPES)[number][];
          })
          .meta({ description: 'Only these types, comma-separated (e.g. `user.added,user.removed`).' }),
        tenantId: identifier
          .optional()
          .meta({ description: "Only this tenant's events (instance events: any tenant bound to it)." }),
      }),
    },
    responses: {
      200: reply(EventPage.meta({ description: 'The events after `after`, and where to read on.' })),
      400: reply(
        errorAnswer(
          ['invalid_request'],
          'A query parameter is malformed or out of range (`invalid_request`).',
        ),
      ),
      401: unauthorized,
      410: reply(
        errorAnswer(
          ['cursor_expired'],
          'Events after `after` are no longer kept (older than `EVENTS_RETENTION_HOURS`): read again the records you keep from the mirror, then the feed from its oldest kept event (a read without `after`); events carry each record as it was after its change, so replaying them over what you read converges (`cursor_expired`).',
        ),
      ),
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  getUser: {
    method: 'get',
    path: '/tenants/{tenantId}/users/{userName}',
    tags: ['mirror'],
    summary: 'A mirrored user of the app',
    description:
      'The user as the last `authSync` for `KOO_APP_ID` left them, including users that are disabled (`enable: false`) or whose authorization was cancelled (`authorized: false`). Users of other apps are 404.',
    request: { params: z.object({ tenantId: TenantIdParam, userName: UserNameParam }) },
    responses: {
      200: reply(User.meta({ description: 'The user.' })),
      400: invalidIdentifier,
      401: unauthorized,
      404: notFound('No such user of this app in the tenant'),
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
  listDepartments: {
    method: 'get',
    path: '/tenants/{tenantId}/departments',
    tags: ['mirror'],
    summary: "The tenant's departments",
    description: "The tenant's current set of departments, ordered by `orgCode`; `parent` lists one level.",
    request: {
      params: z.object({ tenantId: TenantIdParam }),
      query: z.object({
        parent: z.string().max(64).optional().meta({
          description:
            'Only the departments directly under this `orgCode`; `?parent=` (empty) lists the top level (those whose `parentCode` is null). Given once.',
        }),
      }),
    },
    responses: {
      200: reply(
        Departments.meta({
          description: 'The departments (an empty list when the tenant has none, or none under `parent`).',
        }),
      ),
      400: invalidIdentifier,
      401: unauthorized,
      404: notFound('No such tenant in the mirror'),
      429: rateLimited,
      500: internalError,
      503: storeUnavailable,
    },
  },
});

/**
 * The change feed's webhook (contract §5b), declared with the API so the OpenAPI document lists it
 * under `webhooks`: what the relay POSTs to WEBHOOK_URL and what it expects back.
 */
export const webhook = {
  name: 'relayEvent',
  summary: 'A change-feed event, POSTed to WEBHOOK_URL',
  description:
    "Every event of `GET /events` is also POSTed to `WEBHOOK_URL` as its JSON, signed per the Standard Webhooks spec with `WEBHOOK_SECRET`: verify it with a Standard Webhooks library (or the integration kit's `verifyRelayWebhook`) over the raw body. Events arrive in feed order, one at a time, by one relay replica at a time; each is retried with exponential backoff and jitter (up to 1 h apart) until the receiver answers 2xx within 10 s, for as long as the feed keeps it. Delivery is at least once: drop duplicates by `webhook-id`.",
  headers: z.object({
    'webhook-id': EventId.meta({ description: "The event's id: the same on every retry." }),
    'webhook-timestamp': z
      .string()
      .regex(/^\d+$/)
      .meta({ description: 'When this attempt was signed, in seconds since the epoch.' }),
    'webhook-signature': z.string().meta({
      description:
        '`v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<body>`, keyed by the secret.',
    }),
  }),
  body: RelayEvent,
  accepted: 'Any 2xx acknowledges the event; anything else, or no answer within 10 s, is retried.',
} as const;

export type Operations = typeof operations;
export type OperationId = keyof Operations;

/** The body of an operation's answer with `status` (200 by default), as the relay sends it. */
export type Answer<
  Id extends OperationId,
  Status extends keyof Operations[Id]['responses'] = 200 & keyof Operations[Id]['responses'],
> = Operations[Id]['responses'][Status] extends { schema: infer S extends z.ZodType } ? z.output<S> : never;

/** The request body an operation accepts, as the caller writes it. */
export type RequestBody<Id extends OperationId> = Operations[Id] extends {
  request: { body: infer S extends z.ZodType };
}
  ? z.input<S>
  : never;

/** The document's prose outside the operations. */
export const about = {
  title: 'KooGallery relay: seller-app API',
  version: '1.0.0',
  summary:
    "The seller app's server-side view of KooGallery sign-ins and of the mirrored tenants, users and departments.",
  description: [
    "The relay mirrors the KooGallery joint-operation (联营) data pushed to it (tenants, users authorized for the app, departments) and signs users in through their tenant's identity server. The seller's own **server** reads both here.",
    '',
    '**Authentication.** Every call carries `Authorization: Bearer <one of SELLER_API_KEYS>`; a missing or wrong key is 401 `{"error":"unauthorized"}` with a `WWW-Authenticate: Bearer` header. Only this document (`GET /api/v1/openapi.json`) is public.',
    '',
    '**Errors** are always JSON: `{"error":"<code>","message":"<sentence>"}`. Codes: `unauthorized`, `no_session`, `reauthenticate`, `invalid_request`, `invalid_ticket`, `not_found`, `rate_limited`, `idp_unavailable`, `store_unavailable`, `internal_error`. Any path or method not listed here answers 404 `not_found` (after the API-key check). A 500 `internal_error` message quotes the `reqId` of the relay\'s log line.',
    '',
    "**Naming a browser session.** The session routes find the signed-in browser session either from the browser's `Cookie` header, forwarded as is by the seller app (the relay's cookie, `relay.sid` unless `SESSION_COOKIE_NAME` says otherwise), or from `X-Session-Id` carrying the session id (the value the relay stores, e.g. from a ticket redemption; the signed cookie value `s:…` as the browser sent it is accepted too). When `X-Session-Id` is present it alone names the session, and the cookie is not consulted.",
    '',
    '**Rate limits.** 429 `rate_limited` with `Retry-After` (seconds) answers a client address that sent too many missing or wrong API keys this minute (only those requests are counted and refused: a correct key is never limited), too many refused ticket redemptions, or a token renewal for a tenant whose identity server has had too many calls. Limits are per minute and shared by every relay of one Redis; see `RATE_LIMIT_*` in the configuration.',
    '',
    '**Authorization follows the mirror at once.** Every session answer re-checks the user against the mirror: when an `authSync` removes, disables or de-authorizes the user, or the tenant or application is deleted, the session stops being valid (401 `no_session`).',
    '',
    '**Times** (`expiresAt`) are ISO 8601 in UTC.',
  ].join('\n'),
  servers: [{ url: '/api/v1', description: 'This relay (relative to where this document is served).' }],
  apiKey:
    "One of the relay's `SELLER_API_KEYS` (comma-separated in its configuration; every listed key is accepted, for rotation).",
  tags: {
    session: 'The signed-in browser session, its tokens and hand-offs.',
    mirror: 'Reads of the mirrored KooGallery data and the authorization decision.',
    events: 'The change feed: every change of the mirror and every session, by cursor, long poll or webhook.',
    meta: 'This document.',
  } satisfies Record<Tag, string>,
  /** Named shapes the document lists though no answer names them. */
  schemas: [ErrorBody],
} as const;
