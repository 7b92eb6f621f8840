// panva's oidc-provider on loopback for `cargo xtask interop`.
//
// Usage: node oidc_server.mjs PORT
//
// Refresh tokens rotate on every use, and a consumed refresh token presented
// again revokes the whole grant (the provider's built-in reuse detection, as
// RFC 9700 recommends). Loopback-only helpers under /_interop/ seed grants and
// refresh tokens through the provider's own models (no browser) and expose a
// log of token requests and revoked grants.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const SCOPE = 'openid offline_access profile';

const common = {
  grant_types: ['authorization_code', 'refresh_token'],
  redirect_uris: ['http://127.0.0.1/callback'],
  response_types: ['code'],
};
const clients = [
  // The secret needs form-urlencoding in a Basic header (RFC 6749 section 2.3.1).
  { ...common, client_id: 'basic-client', client_secret: 'p+a/s=s&w%o:r d', token_endpoint_auth_method: 'client_secret_basic' },
  { ...common, client_id: 'post-client', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post' },
  // `connectkit authorize`: a native client (RFC 8252: any loopback port
  // matches the registered http://127.0.0.1/callback), with the device grant.
  {
    client_id: 'native-client',
    client_secret: 'native-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    response_types: ['code'],
  },
  // The client credentials grant.
  {
    client_id: 'cc-client',
    client_secret: 'cc-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  },
];

// Signed client assertions (RFC 7523 section 2.2): a client whose JWKS is
// the public half of connectkit's test key (the xtask names the PEM file),
// and one that signs with its secret. The provider refuses a replayed jti.
const assertionKey = process.env.CONNECTKIT_INTEROP_CLIENT_KEY;
if (assertionKey) {
  const jwk = createPublicKey(readFileSync(assertionKey)).export({ format: 'jwk' });
  clients.push({
    ...common,
    client_id: 'pkjwt-client',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'PS256',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    jwks: { keys: [{ ...jwk, use: 'sig' }] },
  });
}
clients.push({
  client_id: 'csjwt-client',
  client_secret: 'csjwt-secret-of-at-least-thirty-two-bytes',
  token_endpoint_auth_method: 'client_secret_jwt',
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
});

const provider = new Provider(issuer, {
  clients,
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  rotateRefreshToken: true,
  scopes: SCOPE.split(' '),
  // Dev interactions: the provider's own login and consent pages, which the
  // authorize scenarios fill in over HTTP as a user would.
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
  },
  // The provider's own rule for refresh tokens (issueRefreshToken left at
  // its default): only with offline_access granted, which the provider drops
  // from an authorization request without prompt=consent (OpenID Connect
  // Core section 11), as real deployments do.
  ttl: { AccessToken: 3600, RefreshToken: 86400, Grant: 86400, Session: 86400 },
});
provider.proxy = false;

const log = [];
const record = (entry) => log.push({ ...entry, seq: log.length });

provider.on('grant.revoked', (ctx, grantId) => record({ kind: 'grant_revoked', grant: grantId }));
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token') return;
  const auth = ctx.get('authorization');
  record({
    kind: 'token',
    method: ctx.method,
    query_keys: Object.keys(ctx.query).sort(),
    body_keys: ctx.oidc && ctx.oidc.body ? Object.keys(ctx.oidc.body).sort() : [],
    basic: auth.startsWith('Basic '),
    status: ctx.status,
    error: ctx.body && typeof ctx.body === 'object' ? ctx.body.error || null : null,
    error_description: ctx.body && typeof ctx.body === 'object' ? ctx.body.error_description || null : null,
  });
});

async function seedRefreshToken(clientId, scope) {
  const client = await provider.Client.find(clientId);
  if (!client) throw new Error(`no client ${clientId}`);
  const grant = new provider.Grant({ accountId: 'interop', clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const rt = new provider.RefreshToken({
    accountId: 'interop',
    client,
    grantId,
    scope,
    gty: 'authorization_code',
    authTime: Math.floor(Date.now() / 1000),
  });
  return { refresh_token: await rt.save(), grant: grantId, scope };
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  const json = (status, value) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  try {
    if (url.pathname === '/_interop/ready') return json(200, { ready: true });
    if (url.pathname === '/_interop/log') {
      const since = Number(url.searchParams.get('since') || '0');
      return json(200, { next: log.length, entries: log.slice(since) });
    }
    if (url.pathname === '/_interop/grant' && req.method === 'POST') {
      const form = await readForm(req);
      return json(200, await seedRefreshToken(form.get('client_id'), form.get('scope') || SCOPE));
    }
  } catch (e) {
    return json(500, { error: String(e) });
  }
  return callback(req, res);
});
server.listen(port, '127.0.0.1');
