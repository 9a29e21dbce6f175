// The kit's webhook receiver: verifyRelayWebhook and the relayWebhook middleware accept what
// standardwebhooks signs, on the raw bytes, and refuse a changed body, another secret, an old
// timestamp and missing headers, each with its status and a sentence; and a relay's own
// deliveries verify, the same events as its feed.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import express from 'express';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import {
  RelayClient,
  relayWebhook,
  RelayWebhookError,
  verifyRelayWebhook,
  type RelayEvent,
} from '../../src/client/index.js';
import { authFields, newTenantId, tenantFields, user } from '../support/data.js';
import { API_KEY, startRelay } from '../support/relay.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRET = newSecret();

const event = {
  id: '1764000000000-0',
  type: 'user.added',
  occurredAt: '2026-11-24T16:00:00.000Z',
  tenantId: 't-1',
  data: { tenantId: 't-1', appId: 'app', userName: 'ann', name: '安', role: 'user', enable: true },
};
// Spaced and in an order of its own: only the bytes as sent verify, not JSON serialized again.
const payload = JSON.stringify(event, null, 2);

/** The headers the relay sends with `body`, signed with `secret` at `at`. */
function signed(body: string, secret = SECRET, at = new Date()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': event.id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(event.id, at, body),
  };
}

describe('verifyRelayWebhook', () => {
  const verify = (headers: Record<string, string>, body: unknown = Buffer.from(payload), secret = SECRET) =>
    verifyRelayWebhook({ headers, body }, secret);
  const refusal = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      expect(error).toBeInstanceOf(RelayWebhookError);
      const { status, code, message } = error as RelayWebhookError;
      return { status, code, message };
    }
    throw new Error('accepted');
  };

  it('returns the event of a payload signed with the secret, from a Buffer or a string', () => {
    expect(verify(signed(payload))).toEqual(event);
    expect(verify(signed(payload), payload)).toEqual(event);
    // several secrets while WEBHOOK_SECRET is rotated: either verifies
    expect(verifyRelayWebhook({ headers: signed(payload), body: payload }, [newSecret(), SECRET])).toEqual(
      event,
    );
  });

  it('refuses a changed body, another secret, an old or future timestamp and missing headers', () => {
    const tampered = payload.replace('"role": "user"', '"role": "admin"');
    expect(tampered).not.toBe(payload);
    expect(refusal(() => verify(signed(payload), Buffer.from(tampered)))).toMatchObject({
      status: 401,
      code: 'invalid_signature',
    });
    // the same event serialized again is other bytes: refused too
    expect(refusal(() => verify(signed(payload), JSON.stringify(event)))).toMatchObject({ status: 401 });
    expect(refusal(() => verify(signed(payload, newSecret())))).toMatchObject({
      status: 401,
      code: 'invalid_signature',
      message: expect.stringMatching(/does not match/),
    });
    const sixMinutesAgo = new Date(Date.now() - 6 * 60_000);
    expect(refusal(() => verify(signed(payload, SECRET, sixMinutesAgo)))).toMatchObject({
      status: 401,
      code: 'invalid_timestamp',
      message: expect.stringMatching(/5 minutes/),
    });
    expect(refusal(() => verify(signed(payload, SECRET, new Date(Date.now() + 6 * 60_000))))).toMatchObject({
      status: 401,
      code: 'invalid_timestamp',
    });
    // within the tolerance: accepted
    expect(verify(signed(payload, SECRET, new Date(Date.now() - 4 * 60_000)))).toEqual(event);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const { [name]: _, ...without } = signed(payload);
      expect(refusal(() => verify(without))).toMatchObject({
        status: 400,
        code: 'missing_headers',
        message: expect.stringContaining(name),
      });
    }
    expect(refusal(() => verify({ ...signed(payload), 'webhook-timestamp': 'yesterday' }))).toMatchObject({
      status: 400,
      code: 'invalid_timestamp',
    });
    // signed, but not an event
    expect(refusal(() => verify(signed('[1,2]'), '[1,2]'))).toMatchObject({
      status: 400,
      code: 'invalid_payload',
    });
  });

  it('will not verify a body that was parsed already, nor with a malformed secret', () => {
    expect(() => verify(signed(payload), event)).toThrow(/raw body/);
    expect(() => verify(signed(payload), Buffer.from(payload), 'not-a-secret')).toThrow(/whsec_/);
  });
});

describe('relayWebhook (Express middleware)', () => {
  const receiver = (before?: express.RequestHandler) => {
    const received: RelayEvent[] = [];
    const app = express();
    if (before) app.use(before);
    app.post('/relay/webhook', relayWebhook({ secret: SECRET, limit: 4096 }), (req, res) => {
      received.push(req.relayEvent!);
      res.sendStatus(204);
    });
    return { app, received };
  };

  it('hands the verified event to the next handler', async () => {
    const { app, received } = receiver();
    const res = await request(app).post('/relay/webhook').set(signed(payload)).send(payload);
    expect(res.status).toBe(204);
    expect(received).toEqual([event]);
    // after express.raw() too
    const raw = receiver(express.raw({ type: 'application/json' }));
    expect((await request(raw.app).post('/relay/webhook').set(signed(payload)).send(payload)).status).toBe(
      204,
    );
    expect(raw.received).toEqual([event]);
  });

  it('answers 401 and 400 with a sentence, and calls no handler', async () => {
    const { app, received } = receiver();
    const post = (headers: Record<string, string>, body: string) =>
      request(app).post('/relay/webhook').set(headers).send(body);
    const tampered = await post(signed(payload), payload.replace('ann', 'bob'));
    expect([tampered.status, tampered.body.error]).toEqual([401, 'invalid_signature']);
    expect(tampered.body.message).toMatch(/^The signature does not match/);
    const wrongSecret = await post(signed(payload, newSecret()), payload);
    expect([wrongSecret.status, wrongSecret.body.error]).toEqual([401, 'invalid_signature']);
    const old = await post(signed(payload, SECRET, new Date(Date.now() - 10 * 60_000)), payload);
    expect([old.status, old.body.error]).toEqual([401, 'invalid_timestamp']);
    const bare = await post({ 'content-type': 'application/json' }, payload);
    expect([bare.status, bare.body.error]).toEqual([400, 'missing_headers']);
    const large = 'x'.repeat(5000);
    const tooLarge = await post(signed(large), large);
    expect([tooLarge.status, tooLarge.body.error]).toEqual([413, 'payload_too_large']);
    expect(received).toEqual([]);
  });

  it('fails loudly behind express.json(), which leaves no raw body to verify', async () => {
    const { app, received } = receiver(express.json());
    const res = await request(app).post('/relay/webhook').set(signed(payload)).send(payload);
    expect(res.status).toBe(500);
    expect(received).toEqual([]);
  });

  it('refuses a malformed secret when it is set up', () => {
    expect(() => relayWebhook({ secret: 'secret' })).toThrow(/whsec_/);
    expect(() => relayWebhook({ secret: [] })).toThrow(/secret/);
  });
});

describe("a relay's own deliveries", () => {
  it('verify with relayWebhook, and are the events of the feed, in order', async () => {
    const received: RelayEvent[] = [];
    const app = express();
    app.post('/relay/webhook', relayWebhook({ secret: SECRET }), (req, res) => {
      received.push(req.relayEvent!);
      res.sendStatus(204);
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const t = await startRelay({
      store: 'memory',
      env: {
        WEBHOOK_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/relay/webhook`,
        WEBHOOK_SECRET: SECRET,
      },
    });
    try {
      t.relay.workers.start();
      const tenantId = newTenantId();
      expect((await t.pusher.tenantSync(tenantFields(tenantId))).resultCode).toBe('000000');
      expect((await t.pusher.authSync(authFields(tenantId, [user('ann'), user('bob')]))).resultCode).toBe(
        '000000',
      );
      const feed: RelayEvent[] = [];
      for await (const { event } of new RelayClient({ baseUrl: t.url, apiKey: API_KEY }).events({
        wait: 1,
      })) {
        feed.push(event);
        if (feed.length === 3) break;
      }
      for (let waited = 0; received.length < 3 && waited < 10_000; waited += 20)
        await new Promise((r) => setTimeout(r, 20));
      expect(received.map((e) => e.type)).toEqual(['tenant.created', 'user.added', 'user.added']);
      expect(received).toEqual(feed);
    } finally {
      await t.relay.workers.stop();
      await t.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
