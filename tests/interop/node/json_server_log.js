// json-server middleware for `cargo xtask interop`: records every request
// (method, URL, status) and serves the record at /_interop/log, and answers
// /_interop/ready once the router is up.
const log = [];

module.exports = (req, res, next) => {
  if (req.path === '/_interop/ready') return res.json({ ready: true });
  if (req.path === '/_interop/log') {
    const since = Number(req.query.since || '0');
    return res.json({ next: log.length, entries: log.slice(since) });
  }
  res.on('finish', () => log.push({ seq: log.length, method: req.method, url: req.originalUrl, status: res.statusCode }));
  return next();
};
