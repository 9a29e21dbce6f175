/**
 * What a seller would otherwise write for "who is signed in": passport + passport-oauth2 with
 * express-session and connect-redis (node-redis) on the same Redis, the user serialized into
 * the session as JSON. GET /me answers `req.isAuthenticated()` with the user as JSON.
 *
 * The OAuth2 strategy is configured against the sandbox tenant's identity server as a seller
 * would configure it, but the benchmark compares only the per-request session read, so it does
 * not sign in through it: POST /__bench/login (test-only) calls `req.login(user)` with the user
 * given in BENCH_USER, which makes the same session record and cookie that a passport callback
 * makes after its verify function.
 */
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { Strategy as OAuth2Strategy } from 'passport-oauth2';
import { createClient } from 'redis';
import { announce } from './announce.js';

const env = (name: string, fallback = '') => process.env[name] ?? fallback;
const client = createClient({ url: env('REDIS_URL') });
client.on('error', (error: Error) => console.error(`passport server redis: ${error.message}`));
await client.connect();

const idp = env('IDP_BASE', 'http://127.0.0.1/t/unknown');
passport.use(
  'koogallery',
  new OAuth2Strategy(
    {
      authorizationURL: env('AUTHORIZATION_URL', 'http://127.0.0.1/unified-login/'),
      tokenURL: `${idp}/api/v1/oauth2/token`,
      clientID: env('CLIENT_ID', 'client'),
      clientSecret: env('CLIENT_SECRET', 'secret'),
      callbackURL: env('CALLBACK_URL', 'http://127.0.0.1/auth/callback'),
    },
    (
      _accessToken: string,
      _refreshToken: string,
      profile: Express.User,
      done: (e: null, u: Express.User) => void,
    ) => done(null, profile),
  ),
);
passport.serializeUser((user, done) => done(null, JSON.stringify(user)));
passport.deserializeUser((raw: string, done) => done(null, JSON.parse(raw) as Express.User));

const app = express();
app.use(
  session({
    store: new RedisStore({ client, prefix: `${env('REDIS_PREFIX')}passport:sess:` }),
    secret: env('SESSION_SECRET', 'bench-passport-session-secret-0123'),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 12 * 3600 * 1000 },
  }),
);
app.use(passport.initialize());
app.use(passport.session());

app.get('/auth/koogallery', passport.authenticate('koogallery'));
app.get(
  '/auth/koogallery/callback',
  passport.authenticate('koogallery', { failureRedirect: '/' }),
  (_req, res) => res.redirect('/'),
);

// Test-only: make a real passport session for the user in BENCH_USER.
app.post('/__bench/login', (req, res, next) => {
  const user = JSON.parse(env('BENCH_USER', '{}')) as Express.User;
  req.login(user, (error) => (error ? next(error) : res.json({ ok: true })));
});

app.get('/me', (req, res) => {
  if (!req.isAuthenticated()) return void res.status(401).json({ error: 'no_session' });
  res.json({ user: req.user });
});

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
announce(server);
