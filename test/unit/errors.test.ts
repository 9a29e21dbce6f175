// The one error family (src/errors.ts): every class names itself, and the two renderers turn
// each into the answer the contract says — the seller API's `{error, message}` and the
// marketplace's `resultCode`/`resultMsg` — never showing a sentence that is not for the caller.
import { describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { ApiError } from '../../src/api/errors.js';
import { ConfigError } from '../../src/config.js';
import { apiAnswer, marketplaceAnswer, RelayError } from '../../src/errors.js';
import { KitRefusal, ResultCode } from '../../src/kit/resultCodes.js';
import { classifyIdpError, IdpError } from '../../src/sso/idp.js';
import { NoSessionError, ReauthenticateError } from '../../src/sso/renewal.js';
import { CrossSlotError, StoreDeadlineError, StoreUnavailableError } from '../../src/store/store.js';

const errors: [string, RelayError][] = [
  ['ApiError', new ApiError(404, 'not_found', 'No such tenant in the mirror.')],
  ['KitRefusal', new KitRefusal(ResultCode.authFailed, 'x-sign does not match the request')],
  ['StoreUnavailableError', new StoreUnavailableError('store did not answer GET within 1500 ms')],
  ['StoreDeadlineError', new StoreDeadlineError('the write reached the store after its deadline')],
  ['CrossSlotError', new CrossSlotError('CROSSSLOT')],
  ['IdpError', new IdpError({ kind: 'unavailable', detail: 'timed out' })],
  ['NoSessionError', new NoSessionError()],
  ['ReauthenticateError', new ReauthenticateError()],
  ['ConfigError', new ConfigError('PORT', 'must be a whole number')],
];

describe('the relay error family', () => {
  it.each(errors)('%s is a RelayError that reports its own name', (name, error) => {
    expect(error).toBeInstanceOf(RelayError);
    expect(error.name).toBe(name);
    expect(String(error)).toMatch(new RegExp(`^${name}: `));
  });

  it('renders seller API answers from the error alone', () => {
    const answers = Object.fromEntries(errors.map(([name, e]) => [name, apiAnswer(e, 'req-1')]));
    expect(answers.ApiError).toEqual({
      status: 404,
      body: { error: 'not_found', message: 'No such tenant in the mirror.' },
    });
    expect(answers.NoSessionError).toEqual({
      status: 401,
      body: { error: 'no_session', message: 'No signed-in session: it is absent, expired or was revoked.' },
    });
    expect(answers.ReauthenticateError!.body.error).toBe('reauthenticate');
    // Not for the caller: the store's and the identity server's details stay in the log.
    expect(answers.StoreUnavailableError).toEqual({
      status: 503,
      body: {
        error: 'store_unavailable',
        message: 'The relay could not reach its store in time; nothing was changed, please retry shortly.',
      },
    });
    expect(answers.StoreDeadlineError!.body.message).not.toMatch(/deadline/);
    expect(answers.IdpError).toEqual({
      status: 502,
      body: {
        error: 'idp_unavailable',
        message: "The tenant's identity server could not be used right now; retry shortly.",
      },
    });
  });

  it('renders anything else as a 500 that names the request, and body-parser errors as 4xx', () => {
    expect(apiAnswer(new Error('secret detail'), 'req-9')).toEqual({
      status: 500,
      body: {
        error: 'internal_error',
        message: 'Something went wrong in the relay; quote req-9 when reporting it.',
      },
    });
    expect(apiAnswer(Object.assign(new Error('x'), { type: 'entity.too.large', status: 413 }), 'r')).toEqual({
      status: 413,
      body: { error: 'invalid_request', message: 'The body is too large.' },
    });
    expect(
      apiAnswer(Object.assign(new Error('x'), { type: 'entity.parse.failed', status: 400 }), 'r').body,
    ).toEqual({
      error: 'invalid_request',
      message: 'The body is not valid JSON.',
    });
  });

  it('renders marketplace answers: refusals with their code and sentence, the rest as 000005', () => {
    expect(marketplaceAnswer(errors[1]![1])).toEqual({
      resultCode: '000001',
      resultMsg: 'x-sign does not match the request',
    });
    expect(marketplaceAnswer(new StoreDeadlineError('late'))).toEqual({
      resultCode: '000005',
      resultMsg: 'The relay could not reach its store in time; nothing was changed, please retry shortly.',
    });
    expect(marketplaceAnswer(new TypeError('bug'))).toEqual({
      resultCode: '000005',
      resultMsg: 'internal error; nothing was changed, please retry',
    });
  });
});

/** As openid-client makes them (its constructor takes the code; its types do not say so). */
const clientError = (message: string, code: string, cause?: unknown) =>
  Object.assign(new oidc.ClientError(message, cause === undefined ? undefined : { cause }), { code });

describe("identity-server failures, by openid-client's ClientError.code", () => {
  it.each([
    [clientError('operation timed out', 'OAUTH_TIMEOUT'), 'timed out'],
    [clientError('operation aborted', 'OAUTH_ABORT'), 'timed out'],
    [
      clientError(
        'unexpected HTTP response status code',
        'OAUTH_RESPONSE_IS_NOT_CONFORM',
        new Response('', { status: 503 }),
      ),
      'HTTP 503',
    ],
    [clientError('unexpected response content-type', 'OAUTH_RESPONSE_IS_NOT_JSON'), 'the answer is not JSON'],
    [clientError('parsing error occured', 'OAUTH_PARSE_ERROR'), 'OAUTH_PARSE_ERROR'],
    [Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 'ECONNREFUSED'],
  ] as const)('%s → unavailable: %s', (error, detail) => {
    const classified = classifyIdpError(error);
    expect(classified.failure).toEqual({ kind: 'unavailable', detail });
    expect([classified.page, classified.detail]).toEqual(['idp_unavailable', detail]);
  });

  it('names each failure page', () => {
    expect(new IdpError({ kind: 'rejected', error: 'invalid_grant', status: 400 })).toMatchObject({
      page: 'code_rejected',
      detail: '400 invalid_grant',
    });
    expect(new IdpError({ kind: 'no_client' }).page).toBe('no_client');
    expect(new IdpError({ kind: 'unknown_tenant' }).page).toBe('unknown_tenant');
  });
});
