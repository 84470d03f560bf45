// A real OpenID Connect provider (the certified `oidc-provider` package) for the
// sign-in tests and for trying single sign-on locally.
//
//   node tests/accounts/oidc_provider.mjs                 # the sample below, on port 9000
//   OIDC_TEST_PROVIDER_CONFIG=path/to/config.json node tests/accounts/oidc_provider.mjs
//
// The config file has the shape of SAMPLE. Users sign in with their id and
// password on a plain form. POST /control/users/<id> with a JSON body
// ({"disabled": true}, {"groups": [...]}) changes a user while it runs, as an
// administrator would in a real provider. It listens on 127.0.0.1 only.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const SAMPLE = {
  port: 9000,
  clients: [
    {
      client_id: 'chatapp',
      client_secret: 'chatapp-secret',
      redirect_uris: ['http://127.0.0.1:8000/accounts/oidc/callback/', 'http://localhost:8000/accounts/oidc/callback/'],
      post_logout_redirect_uris: ['http://127.0.0.1:8000/accounts/signed-out/', 'http://localhost:8000/accounts/signed-out/'],
    },
  ],
  users: {
    carol: { password: 'carol-password', email: 'carol@example.com', name: 'Carol Reviewer', groups: ['chat-reviewers', 'engineering'] },
    dave: { password: 'dave-password', email: 'dave@example.com', name: 'Dave Admin', groups: ['it-admins'] },
    erin: { password: 'erin-password', email: 'erin@elsewhere.test', name: 'Erin Outsider', groups: [] },
  },
};

const config = process.env.OIDC_TEST_PROVIDER_CONFIG
  ? JSON.parse(readFileSync(process.env.OIDC_TEST_PROVIDER_CONFIG, 'utf8'))
  : SAMPLE;
const port = Number(process.env.OIDC_TEST_PROVIDER_PORT || config.port || 9000);
const issuer = config.issuer || `http://127.0.0.1:${port}`;
const users = config.users;

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;

function claimsOf(id) {
  const user = users[id];
  const [given, ...family] = (user.name || id).split(' ');
  return {
    sub: id,
    preferred_username: id,
    name: user.name || id,
    given_name: given,
    family_name: family.join(' '),
    email: user.email,
    email_verified: user.email_verified ?? true,
    groups: user.groups || [],
  };
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...client,
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out of the test provider?', `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out of the test provider', '');
      },
    },
  },
  // A disabled or removed user's refresh tokens stop working, as in Keycloak or Entra ID.
  async findAccount(ctx, id) {
    if (!users[id] || users[id].disabled) return undefined;
    return { accountId: id, claims: async () => claimsOf(id) };
  },
  // Refresh tokens for every client allowed the grant, not only with offline_access.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // A first-party client: consent is implied for everything it asks.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<p class="error">${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600, RefreshToken: 3600 },
});

function loginForm(uid, message = '') {
  return page('Sign in to the test provider', `${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Sign-in error', '<p>This sign-in has expired.</p>'));
  if (details.prompt.name !== 'login') {
    // Anything else (consent) is granted: the only clients are first-party.
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
    if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }
  if (action !== 'login') return send(res, 200, loginForm(uid));
  const form = new URLSearchParams(await readBody(req));
  const id = form.get('username') || '';
  const user = users[id];
  if (!user || user.password !== form.get('password')) return send(res, 200, loginForm(uid, 'Wrong username or password.'));
  if (user.disabled) return send(res, 200, loginForm(uid, 'This account is disabled.'));
  return provider.interactionFinished(req, res, { login: { accountId: id } }, { mergeWithLastSubmission: false });
}

async function control(req, res, id) {
  const changes = JSON.parse((await readBody(req)) || '{}');
  users[id] = { ...(users[id] || {}), ...changes };
  send(res, 200, JSON.stringify({ [id]: users[id] }), 'application/json');
}

const handle = provider.callback();
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  const match = url.pathname.match(/^\/interaction\/([\w-]+)(?:\/(login))?$/);
  const controlled = url.pathname.match(/^\/control\/users\/([\w.@-]+)$/);
  try {
    if (match) return await interaction(req, res, match[1], req.method === 'POST' ? match[2] : undefined);
    if (controlled && req.method === 'POST') return await control(req, res, controlled[1]);
    return handle(req, res);
  } catch (error) {
    const status = error instanceof errors.OIDCProviderError ? error.statusCode : 500;
    console.error(error);
    return send(res, status, page('Sign-in error', `<p class="error">${escape(error.message)}</p>`));
  }
});
server.listen(port, '127.0.0.1', () => console.log(`OpenID Connect test provider at ${issuer}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
