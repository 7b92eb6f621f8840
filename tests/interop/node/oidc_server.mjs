// panva's oidc-provider on loopback for `cargo xtask interop`.
//
// Usage: node oidc_server.mjs PORT
//
// Refresh tokens rotate on every use, and a consumed refresh token presented
// again revokes the whole grant (the provider's built-in reuse detection, as
// RFC 9700 recommends). Loopback-only helpers under /_interop/ seed grants and
// refresh tokens through the provider's own models (no browser) and expose a
// log of token requests and revoked grants.
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
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
// and one that signs with its secret. The provider refuses a replayed jti
// (its ReplayDetection model, always on). The key is registered as Microsoft
// Entra registers an uploaded certificate: with the certificate (`x5c`) and
// its SHA-256 thumbprint (`x5t#S256`), which the log compares with the
// assertion's header.
const assertionKey = process.env.CONNECTKIT_INTEROP_CLIENT_KEY;
const assertionCert = process.env.CONNECTKIT_INTEROP_CLIENT_CERT;
let certThumbprint = null;
if (assertionKey) {
  const jwk = createPublicKey(readFileSync(assertionKey)).export({ format: 'jwk' });
  if (assertionCert) {
    const der = new X509Certificate(readFileSync(assertionCert)).raw;
    certThumbprint = createHash('sha256').update(der).digest('base64url');
    jwk.x5c = [der.toString('base64')];
    jwk['x5t#S256'] = certThumbprint;
  }
  clients.push({
    ...common,
    client_id: 'pkjwt-client',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'PS256',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    jwks: { keys: [{ ...jwk, use: 'sig' }] },
  });
}
// The CAP service's own client: it validates the bearer tokens it receives
// by introspection (RFC 7662).
clients.push({
  client_id: 'cap-api',
  client_secret: 'cap-api-secret',
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
});
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
    introspection: { enabled: true },
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

// The last client assertion each client presented (loopback helper
// /_interop/assertion), so that a scenario can present one again.
const assertions = new Map();
// Only the header and the claim names of an assertion are logged: the
// assertion itself is a credential until it expires.
function assertionShape(jwt) {
  if (typeof jwt !== 'string') return null;
  try {
    const [h, p] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    return {
      alg: h.alg,
      typ: h.typ || null,
      x5t_s256_registered: certThumbprint !== null && h['x5t#S256'] === certThumbprint,
      has_x5t: typeof h.x5t === 'string',
      iss: p.iss,
      sub: p.sub,
      aud: p.aud,
      has_jti: typeof p.jti === 'string' && p.jti.length > 0,
      lifetime: p.exp - p.iat,
      has_nbf: typeof p.nbf === 'number' && p.nbf <= p.exp,
    };
  } catch {
    return { malformed: true };
  }
}

provider.on('grant.revoked', (ctx, grantId) => record({ kind: 'grant_revoked', grant: grantId }));
// Why a request was refused (the response only says invalid_client).
for (const event of ['grant.error', 'introspection.error']) {
  provider.on(event, (ctx, err) => {
    ctx.state.errorDetail = err.error_detail || null;
  });
}
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token/introspection') {
    record({
      kind: 'introspection',
      caller: ctx.oidc && ctx.oidc.client ? ctx.oidc.client.clientId : null,
      status: ctx.status,
      active: ctx.body && typeof ctx.body === 'object' ? ctx.body.active === true : null,
      token_client: ctx.body && typeof ctx.body === 'object' ? ctx.body.client_id || null : null,
    });
    return;
  }
  if (ctx.path !== '/token') return;
  const auth = ctx.get('authorization');
  const body = ctx.oidc && ctx.oidc.body ? ctx.oidc.body : {};
  if (typeof body.client_assertion === 'string' && body.client_id) {
    assertions.set(body.client_id, body.client_assertion);
  }
  record({
    kind: 'token',
    method: ctx.method,
    query_keys: Object.keys(ctx.query).sort(),
    body_keys: ctx.oidc && ctx.oidc.body ? Object.keys(ctx.oidc.body).sort() : [],
    basic: auth.startsWith('Basic '),
    status: ctx.status,
    error: ctx.body && typeof ctx.body === 'object' ? ctx.body.error || null : null,
    error_description: ctx.body && typeof ctx.body === 'object' ? ctx.body.error_description || null : null,
    error_detail: ctx.state.errorDetail || null,
    grant_type: body.grant_type || null,
    assertion: assertionShape(body.client_assertion),
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
    if (url.pathname === '/_interop/assertion') {
      const value = assertions.get(url.searchParams.get('client_id'));
      return value ? json(200, { client_assertion: value }) : json(404, { error: 'none' });
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
