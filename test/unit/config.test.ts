import { describe, expect, it } from '@jest/globals';
import { estimatedKeyBits, loadConfig } from '../../src/config.js';
import { DataKeyRing } from '../../src/crypto/dataKey.js';
import { testEnv } from '../support/relay.js';

describe('configuration (contract §2)', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(testEnv({ PORT: undefined, HOST: undefined }));
    expect(c.port).toBe(3000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.unifiedLoginUrl).toBe(
      'https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId={appId}',
    );
    expect(c.produceBasePath).toBe('');
    expect(c.postLoginPath).toBe('/');
    expect(c.redis.url).toBeUndefined();
    expect(c.trustProxy).toBe(false);
    expect(c.publicUrl.href).toBe('http://localhost:3000/');
    expect(c.publicBase).toBe('http://localhost:3000');
    expect(c.instances).toEqual({
      gating: true,
      frontEndUrl: 'http://localhost:3000/',
      bodyLimitBytes: 65536,
    });
  });

  it.each([
    ['https://isv.example.com', 'https://isv.example.com'],
    ['https://isv.example.com/', 'https://isv.example.com'],
    ['https://isv.example.com/relay/', 'https://isv.example.com/relay'],
    ['https://isv.example.com/relay//', 'https://isv.example.com/relay'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
  ])('derives the public base of PUBLIC_URL %j: %j, no trailing slash', (publicUrl, base) => {
    const c = loadConfig(testEnv({ PUBLIC_URL: publicUrl }));
    expect(c.publicBase).toBe(base);
  });

  it.each([
    [undefined, false],
    ['', false],
    ['false', false],
    ['true', true],
    ['1', 1],
    ['2', 2],
    ['0', 0],
    ['loopback', 'loopback'],
    ['10.0.0.0/8, 192.168.1.1', '10.0.0.0/8, 192.168.1.1'],
    [' true ', true],
  ])('parses TRUST_PROXY %j for Express as %j', (value, parsed) => {
    expect(loadConfig(testEnv({ TRUST_PROXY: value })).trustProxy).toStrictEqual(parsed);
  });

  it('reads the rate limits: per minute, 0 turns one off, bounds refused with the variable named', () => {
    expect(loadConfig(testEnv()).rateLimits).toEqual({
      windowMs: 60_000,
      login: 300,
      callback: 300,
      ticketFailures: 30,
      apiKeyFailures: 30,
      idpCalls: 600,
    });
    const c = loadConfig(
      testEnv({
        RATE_LIMIT_LOGIN_PER_MINUTE: '0',
        RATE_LIMIT_CALLBACK_PER_MINUTE: '1000000',
        RATE_LIMIT_TICKET_FAILURES_PER_MINUTE: '5',
        RATE_LIMIT_API_KEY_FAILURES_PER_MINUTE: '7',
        RATE_LIMIT_IDP_CALLS_PER_MINUTE: '60',
      }),
    );
    expect(c.rateLimits).toMatchObject({
      login: 0,
      callback: 1_000_000,
      ticketFailures: 5,
      apiKeyFailures: 7,
      idpCalls: 60,
    });
    for (const bad of ['-1', '1.5', 'lots', '1000001'])
      expect(() => loadConfig(testEnv({ RATE_LIMIT_IDP_CALLS_PER_MINUTE: bad }))).toThrow(
        'RATE_LIMIT_IDP_CALLS_PER_MINUTE: must be a whole number from 0 to 1000000',
      );
  });

  it('reads the instance settings: gating, what queryInstance reports', () => {
    const c = loadConfig(
      testEnv({
        PUBLIC_URL: 'https://isv.example.com',
        POST_LOGIN_PATH: '/app/home',
        INSTANCE_GATING: 'OFF',
        APP_ADMIN_URL: 'https://isv.example.com/admin',
      }),
    );
    expect(c.instances).toMatchObject({
      gating: false,
      frontEndUrl: 'https://isv.example.com/app/home',
      adminUrl: 'https://isv.example.com/admin',
    });
    expect(
      loadConfig(testEnv({ APP_FRONTEND_URL: 'https://app.example.com/start' })).instances.frontEndUrl,
    ).toBe('https://app.example.com/start');
  });

  it('reads lists for rotation: session secrets, data keys, API keys', () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const c = loadConfig(
      testEnv({
        SESSION_SECRET: 'first-secret-123456, second-secret-12345',
        DATA_KEY: `${k1},${k2}`,
        SELLER_API_KEYS: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb',
      }),
    );
    expect(c.sessionSecrets).toEqual(['first-secret-123456', 'second-secret-12345']);
    expect(c.sellerApiKeys).toEqual(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    // the second key still opens what it sealed; the first one seals
    expect(c.dataKeys.open(new DataKeyRing([Buffer.alloc(32, 2)]).seal('x', 'c'), 'c')).toBe('x');
    expect(c.dataKeys.currentKeyId).toBe(new DataKeyRing([Buffer.alloc(32, 1)]).currentKeyId);
  });

  it.each([
    [{ KOO_APP_ID: undefined }, 'KOO_APP_ID: is required'],
    [{ KIT_ACCESS_KEY: '' }, 'KIT_ACCESS_KEY: is required'],
    [
      { BASIC_ACCESS_KEY: 'test-kit-access-key-5f1c9a' },
      'BASIC_ACCESS_KEY: must differ from KIT_ACCESS_KEY (Seller Center binds a different key to each interface type)',
    ],
    [{ INSTANCE_GATING: 'yes' }, 'INSTANCE_GATING: must be on or off'],
    [{ ALLOW_INSECURE_IDP: 'yes' }, 'ALLOW_INSECURE_IDP: must be true or false'],
    [{ APP_FRONTEND_URL: '/relative' }, 'APP_FRONTEND_URL: must be an absolute http(s) URL'],
    [{ APP_ADMIN_URL: 'ftp://x.example.com' }, 'APP_ADMIN_URL: must be an absolute http(s) URL'],
    [{ SELLER_API_KEYS: undefined }, 'SELLER_API_KEYS: is required'],
    [{ SELLER_API_KEYS: 'short' }, 'SELLER_API_KEYS: each key must be at least 16 characters'],
    [{ RSA_PRIVATE_KEY_FILE: undefined }, 'RSA_PRIVATE_KEY: is required (or RSA_PRIVATE_KEY_FILE)'],
    [
      { RSA_PRIVATE_KEY_FILE: '/nonexistent.pem' },
      'RSA_PRIVATE_KEY_FILE: cannot read /nonexistent.pem (ENOENT)',
    ],
    [
      { RSA_PRIVATE_KEY_FILE: undefined, RSA_PRIVATE_KEY: 'not a key' },
      'RSA_PRIVATE_KEY: is not a PKCS#8 PEM private key',
    ],
    [{ PORT: 'eighty' }, 'PORT: must be a whole number from 0 to 65535'],
    [
      { PUBLIC_URL: 'isv.example.com' },
      'PUBLIC_URL: must be an absolute http(s) URL without query, e.g. https://isv.example.com',
    ],
    [{ REDIS_URL: 'http://redis' }, 'REDIS_URL: must start with redis:// or rediss://'],
    [{ REDIS_CLUSTER_NODES: 'a:1,b' }, 'REDIS_CLUSTER_NODES: "b" is not host:port'],
    [
      { DATA_KEY: 'dG9vLXNob3J0' },
      'DATA_KEY: must be comma-separated base64 values of exactly 32 bytes (openssl rand -base64 32)',
    ],
    [
      { UNIFIED_LOGIN_URL: 'https://login.example.com/' },
      'UNIFIED_LOGIN_URL: must be an http(s) URL containing {appId}',
    ],
    [
      { PRODUCE_BASE_PATH: 'isv/produce' },
      'PRODUCE_BASE_PATH: must be a path starting with /, e.g. /isv/produce',
    ],
    [
      { POST_LOGIN_PATH: '//evil.example' },
      'POST_LOGIN_PATH: must be a path on this origin starting with a single /',
    ],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET: each secret must be at least 16 characters'],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(testEnv(env))).toThrow(message);
  });

  it('requires the production secrets and Redis in production, and generates them elsewhere', () => {
    const prod = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://isv.example.com',
      REDIS_URL: 'redis://r:6379',
      ALLOW_INSECURE_IDP: undefined,
      SELLER_API_KEYS: 'kJ3v9QeZr2WmX7tYb4NcH8uLpA6sDfG1oTzRyV5wE0q',
    };
    expect(() => loadConfig(testEnv({ ...prod, SESSION_SECRET: undefined }))).toThrow(
      'SESSION_SECRET: is required in production',
    );
    expect(() => loadConfig(testEnv({ ...prod, ALLOW_INSECURE_IDP: 'true' }))).toThrow(
      'ALLOW_INSECURE_IDP: is refused in production: identity servers must be https (it is for the sandbox and tests)',
    );
    expect(loadConfig(testEnv(prod)).allowInsecureIdp).toBe(false);
    expect(loadConfig(testEnv({ ALLOW_INSECURE_IDP: 'TRUE' })).allowInsecureIdp).toBe(true);
    expect(() => loadConfig(testEnv({ ...prod, BASIC_ACCESS_KEY: undefined }))).toThrow(
      'BASIC_ACCESS_KEY: is required in production',
    );
    expect(() => loadConfig(testEnv({ ...prod, DATA_KEY: undefined }))).toThrow(
      'DATA_KEY: is required in production',
    );
    expect(() => loadConfig(testEnv({ ...prod, PUBLIC_URL: undefined }))).toThrow(
      'PUBLIC_URL: is required in production',
    );
    expect(() => loadConfig(testEnv({ ...prod, REDIS_URL: undefined }))).toThrow(
      /REDIS_URL: is required in production/,
    );
    expect(loadConfig(testEnv(prod)).production).toBe(true);
    const generated = loadConfig(
      testEnv({ SESSION_SECRET: undefined, DATA_KEY: undefined, BASIC_ACCESS_KEY: undefined }),
    );
    expect(generated.generated).toEqual(['BASIC_ACCESS_KEY', 'SESSION_SECRET', 'DATA_KEY']);
    expect(generated.basicAccessKey).toMatch(/^[\w-]{32}$/);
  });

  describe('production refusals (issue 9 §9)', () => {
    // A production environment that passes: https everywhere, long keys, a random API key.
    const STRONG_API_KEY = 'kJ3v9QeZr2WmX7tYb4NcH8uLpA6sDfG1oTzRyV5wE0q';
    const prod = (env: Record<string, string | undefined> = {}) =>
      testEnv({
        NODE_ENV: 'production',
        PUBLIC_URL: 'https://isv.example.com',
        REDIS_URL: 'redis://r:6379',
        ALLOW_INSECURE_IDP: undefined,
        SELLER_API_KEYS: STRONG_API_KEY,
        ...env,
      });
    const refusal = (env: Record<string, string | undefined>) => {
      try {
        loadConfig(prod(env));
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };

    it('accepts a production configuration that is https with long, random keys', () => {
      expect(loadConfig(prod()).production).toBe(true);
      // the default unified login is https
      expect(loadConfig(prod()).unifiedLoginUrl).toMatch(/^https:\/\//);
    });

    it.each([
      [{ PUBLIC_URL: 'http://isv.example.com' }, 'PUBLIC_URL: must be https in production'],
      [
        { UNIFIED_LOGIN_URL: 'http://login.example.com/#/portal-login?appId={appId}' },
        'UNIFIED_LOGIN_URL: must be https in production',
      ],
      [{ KIT_ACCESS_KEY: 'kit-key-15chars' }, 'KIT_ACCESS_KEY: must be at least 16 characters in production'],
      [
        { BASIC_ACCESS_KEY: 'short-basic-key' },
        'BASIC_ACCESS_KEY: must be at least 16 characters in production',
      ],
      [
        // 16 characters once decoded from the Base64 the console showed: the key is what counts
        { KIT_ACCESS_KEY: Buffer.from('fifteen-chars-k').toString('base64'), KIT_ACCESS_KEY_BASE64: 'true' },
        'KIT_ACCESS_KEY: must be at least 16 characters in production',
      ],
      [{ V1_ACCESS_KEY: 'v1-key-15-chars' }, 'V1_ACCESS_KEY: must be at least 16 characters in production'],
    ])('refuses %j', (env, message) => {
      expect(refusal(env)).toBe(message);
    });

    it('serves V1 only with V1_ACCESS_KEY, decoded from Base64 when asked', () => {
      expect(loadConfig(prod()).v1AccessKey).toBeUndefined();
      expect(loadConfig(prod({ V1_ACCESS_KEY: 'v1-key-of-16-chars' })).v1AccessKey).toBe(
        'v1-key-of-16-chars',
      );
      const b64 = Buffer.from('v1-key-of-16-chars').toString('base64');
      expect(loadConfig(testEnv({ V1_ACCESS_KEY: b64, V1_ACCESS_KEY_BASE64: 'true' })).v1AccessKey).toBe(
        'v1-key-of-16-chars',
      );
      // the V1 key is the 服务商 key, not bound to an interface type: it may equal a V2 key
      expect(loadConfig(testEnv({ V1_ACCESS_KEY: 'test-kit-access-key-5f1c9a' })).v1AccessKey).toBe(
        'test-kit-access-key-5f1c9a',
      );
    });

    it('allows what it refuses in production everywhere else (tests, the sandbox, the demo)', () => {
      const dev = loadConfig(
        testEnv({
          PUBLIC_URL: 'http://localhost:3000',
          UNIFIED_LOGIN_URL: 'http://127.0.0.1:4000/unified-login/#/portal-login?appId={appId}',
          KIT_ACCESS_KEY: 'k',
          BASIC_ACCESS_KEY: 'b',
          SELLER_API_KEYS: 'aaaaaaaaaaaaaaaa',
        }),
      );
      expect(dev.production).toBe(false);
      expect(dev.sellerApiKeys).toEqual(['aaaaaaaaaaaaaaaa']);
    });

    it.each([
      ['one repeated character', 'a'.repeat(64)],
      ['a short key', 'Xy7-kQ2vLm9pR4tZ'],
      ['digits only', '1234567890123456789012345678901234'],
      // 16 random bytes are 128 bits at best; as hex missing two of the 16 digits, ≈ 122 by the estimate
      ['hex of 16 bytes using 14 digits', '3a9c27e4b1d08e55a7d9c3b2d1e0a4c2'],
      ['a repeated word', 'password'.repeat(6)],
      ['a repeated word and a digit', `${'Tr0ub4dor&3'.repeat(5)}7`],
      ['the test suite key', 'seller-api-key-test-0000000001'],
    ])('refuses a SELLER_API_KEYS entry with less than 128 bits of entropy: %s', (_what, key) => {
      const message = refusal({ SELLER_API_KEYS: `${STRONG_API_KEY},${key}` });
      expect(message).toMatch(
        /^SELLER_API_KEYS: key 2 of 2 has an estimated \d+ bits of entropy, production needs 128: generate each key with openssl rand -base64 32$/,
      );
      // the key itself never appears in the message (it is printed and logged)
      expect(message).not.toContain(key);
    });

    it('estimates a key as its new characters × log2 of its distinct characters', () => {
      expect(estimatedKeyBits('a'.repeat(64))).toBe(0);
      // 16 distinct characters, no three-character sequence twice: 4 bits each
      expect(estimatedKeyBits('0123456789abcdef'.split('').reverse().join('') + '02468ace13579bdf')).toBe(
        128,
      );
      // after "passwordpa", every character ends a sequence already seen: 10 × log2(7)
      expect(estimatedKeyBits('password'.repeat(6))).toBe(Math.floor(10 * Math.log2(7)));
      expect(estimatedKeyBits('')).toBe(0);
    });

    it.each([
      ['openssl rand -base64 32', 'q5U0pX+9Zc3yKj2bV7mN1rT8sW4eL6hA0dF/gC3iJ9o='],
      ['openssl rand -hex 32', '9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8'],
      ['32 random bytes, base64url', STRONG_API_KEY],
    ])('accepts a SELLER_API_KEYS entry made by %s', (_how, key) => {
      expect(refusal({ SELLER_API_KEYS: key })).toBe('accepted');
    });
  });

  it('decodes a Base64-displayed kit key when asked (UNCONFIRMED console behaviour)', () => {
    const c = loadConfig(
      testEnv({
        KIT_ACCESS_KEY: Buffer.from('the-real-key').toString('base64'),
        KIT_ACCESS_KEY_BASE64: 'true',
      }),
    );
    expect(c.kitAccessKey).toBe('the-real-key');
    const basic = loadConfig(
      testEnv({
        BASIC_ACCESS_KEY: Buffer.from('basic-key').toString('base64'),
        BASIC_ACCESS_KEY_BASE64: 'true',
      }),
    );
    expect(basic.basicAccessKey).toBe('basic-key');
  });

  it('refuses an RSA key shorter than KooGallery accepts', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const small = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(() => loadConfig(testEnv({ RSA_PRIVATE_KEY_FILE: undefined, RSA_PRIVATE_KEY: small }))).toThrow(
      'RSA_PRIVATE_KEY: is 2048-bit; KooGallery requires RSA of at least 3072 bits',
    );
  });

  describe('the change feed (EVENTS_RETENTION_HOURS, WEBHOOK_URL, WEBHOOK_SECRET)', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

    it('keeps events 168 h by default, and no webhooks', () => {
      expect(loadConfig(testEnv({})).events).toEqual({ retentionMs: 168 * 3_600_000 });
      expect(loadConfig(testEnv({ EVENTS_RETENTION_HOURS: '2' })).events.retentionMs).toBe(7_200_000);
      expect(() => loadConfig(testEnv({ EVENTS_RETENTION_HOURS: '0' }))).toThrow(
        'EVENTS_RETENTION_HOURS: must be a whole number from 1 to 8760',
      );
    });

    it('takes the webhook URL with its whsec_ secret, both or neither', () => {
      const c = loadConfig(testEnv({ WEBHOOK_URL: 'https://app.example.com/hooks', WEBHOOK_SECRET: secret }));
      expect(c.events.webhook).toEqual({ url: new URL('https://app.example.com/hooks'), secret });
      expect(() => loadConfig(testEnv({ WEBHOOK_URL: 'https://app.example.com/hooks' }))).toThrow(
        'WEBHOOK_SECRET: is required with WEBHOOK_URL',
      );
      expect(() => loadConfig(testEnv({ WEBHOOK_SECRET: secret }))).toThrow(
        'WEBHOOK_SECRET: is set but WEBHOOK_URL is not',
      );
      for (const bad of ['plain-secret', `whsec_${Buffer.alloc(8).toString('base64')}`, 'whsec_!!'])
        expect(() =>
          loadConfig(testEnv({ WEBHOOK_URL: 'https://app.example.com/h', WEBHOOK_SECRET: bad })),
        ).toThrow('WEBHOOK_SECRET: must be whsec_');
      expect(() =>
        loadConfig(testEnv({ WEBHOOK_URL: 'https://u:p@app.example.com/h', WEBHOOK_SECRET: secret })),
      ).toThrow('WEBHOOK_URL: must not carry credentials');
      expect(() => loadConfig(testEnv({ WEBHOOK_URL: 'ftp://x', WEBHOOK_SECRET: secret }))).toThrow(
        'WEBHOOK_URL: must be an absolute http(s) URL',
      );
    });
  });
});
