// SAP CAP on loopback for `cargo xtask interop`, with a small OAuth token
// endpoint beside it (the dynamics365 connector always runs the refresh token
// grant).
//
// Usage (from the CAP project directory): node launch.js PORT
//
// - /odata/v4/catalog/: the OData v4 service (in-memory SQLite, seeded from
//   db/data/*.csv), reachable only with a bearer token this process issued
//   (or, once configured, one that token introspection vouches for).
// - /oauth/token: refresh token grant, client `cap-client` (Basic or form
//   credentials), rotating refresh tokens.
// - /_interop/grant mints a refresh token, /_interop/log lists every request
//   (method, URL, status, and how its bearer token was validated),
//   /_interop/ready answers when the service is up.
// - POST /_interop/introspection {url, client_id, client_secret} makes the
//   service also accept the bearer tokens another authorization server
//   vouches for through token introspection (RFC 7662), as a resource server
//   behind Microsoft Entra or any OpenID provider would.
const crypto = require('node:crypto');
const express = require('express');
const cds = require('@sap/cds');

const port = Number(process.argv[2]);
const CLIENT_ID = 'cap-client';
const CLIENT_SECRET = 'cap secret+/=';
const refreshTokens = new Set();
const accessTokens = new Set();
const log = [];
let served = false;
let introspection = null;

const token = () => crypto.randomBytes(24).toString('base64url');

function clientOk(req) {
  const auth = req.get('authorization') || '';
  if (auth.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
    const dec = (s) => decodeURIComponent((s || '').replace(/\+/g, ' '));
    return dec(id) === CLIENT_ID && dec(secret) === CLIENT_SECRET;
  }
  return req.body.client_id === CLIENT_ID && req.body.client_secret === CLIENT_SECRET;
}

const app = express();
const listen = app.listen.bind(app);
app.listen = (p, ...rest) => listen(p, '127.0.0.1', ...rest);

app.use((req, res, next) => {
  res.on('finish', () => {
    if (!req.originalUrl.startsWith('/_interop')) {
      log.push({
        seq: log.length,
        method: req.method,
        url: req.originalUrl,
        status: res.statusCode,
        auth: res.locals.auth || null,
        token_client: res.locals.tokenClient || null,
      });
    }
  });
  next();
});
app.get('/_interop/ready', (req, res) => (served ? res.json({ ready: true }) : res.status(503).end()));
app.get('/_interop/log', (req, res) => {
  const since = Number(req.query.since || '0');
  res.json({ next: log.length, entries: log.slice(since) });
});
app.post('/_interop/introspection', express.json(), (req, res) => {
  introspection = req.body;
  res.json({ ok: true });
});
app.post('/_interop/grant', (req, res) => {
  const rt = token();
  refreshTokens.add(rt);
  res.json({ refresh_token: rt });
});
app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => {
  if (!clientOk(req)) return res.status(401).json({ error: 'invalid_client' });
  if (req.body.grant_type !== 'refresh_token') return res.status(400).json({ error: 'unsupported_grant_type' });
  if (!refreshTokens.delete(req.body.refresh_token)) return res.status(400).json({ error: 'invalid_grant' });
  const access = token();
  const refresh = token();
  accessTokens.add(access);
  refreshTokens.add(refresh);
  res.json({ access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: refresh });
});
// Whether another authorization server says `bearer` is active, and for
// which client.
async function introspect(bearer) {
  const credentials = Buffer.from(`${introspection.client_id}:${introspection.client_secret}`).toString('base64');
  const r = await fetch(introspection.url, {
    method: 'POST',
    headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: bearer, token_type_hint: 'access_token' }),
  });
  const answer = r.ok ? await r.json() : {};
  return answer.active === true ? answer.client_id || '' : null;
}

app.use('/odata', async (req, res, next) => {
  const auth = req.get('authorization') || '';
  const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : null;
  if (bearer && accessTokens.has(bearer)) {
    res.locals.auth = 'own';
  } else if (bearer && introspection) {
    const client = await introspect(bearer);
    if (client !== null) {
      res.locals.auth = 'introspection';
      res.locals.tokenClient = client;
    }
  }
  if (!res.locals.auth) {
    res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
    return res.status(401).json({ error: { code: '401', message: 'bearer token required' } });
  }
  delete req.headers.authorization;
  next();
});

cds.on('served', () => {
  served = true;
});
require('@sap/cds/server.js')({ app, port, in_memory: true, service: 'all' });
