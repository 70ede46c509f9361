// A test OTLP/HTTP collector for test_telemetry.py: receives the sidecar's export on /v1/traces
// and /v1/logs (protobuf, each decoded as its own Export*ServiceRequest with
// @opentelemetry/otlp-transformer 0.52.1's generated root) and appends one JSON line per request
// to --out: {"path", "signal", "status": answered, "spans": [...], "logs": [...], "raw": base64}.
// GET /respond?signal=traces&status=503&count=2 makes the next `count` requests of that signal
// (traces when not given) get `status`; count=0 clears it. Scripts are per signal, so the
// agent's own log batches never consume an answer meant for spans.
// Prints "port N" once listening on 127.0.0.1 (port 0: a free one).
'use strict';
const fs = require('fs');
const http = require('http');
const root = require('decoder/build/src/generated/root');

const collector = root.opentelemetry.proto.collector;
const SIGNALS = {
  '/v1/traces': { signal: 'traces', type: collector.trace.v1.ExportTraceServiceRequest, flatten: flattenSpans },
  '/v1/logs': { signal: 'logs', type: collector.logs.v1.ExportLogsServiceRequest, flatten: flattenLogs },
};
const out = process.argv[process.argv.indexOf('--out') + 1];
const overrides = { traces: { status: 200, count: 0 }, logs: { status: 200, count: 0 } };

const hex = (b64) => Buffer.from(b64 || '', 'base64').toString('hex');
const attributes = (list) => Object.fromEntries((list || []).map((a) => [a.key, a.value]));

// resource -> scope -> item of a decoded Export*ServiceRequest, each item mapped flat.
function walk(resources, scopesKey, itemsKey, map) {
  const out = [];
  for (const r of resources || []) {
    const resource = attributes(r.resource?.attributes);
    for (const s of r[scopesKey] || []) {
      for (const item of s[itemsKey] || []) out.push(map(item, resource, s.scope?.name || ''));
    }
  }
  return out;
}

function flattenSpans(decoded) {
  const spans = walk(decoded.resourceSpans, 'scopeSpans', 'spans', (s, resource, scope) => ({
    traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), name: s.name,
    kind: s.kind, attributes: attributes(s.attributes), droppedAttributesCount: s.droppedAttributesCount || 0,
    resource, scope,
  }));
  return { spans, logs: [] };
}

function flattenLogs(decoded) {
  const logs = walk(decoded.resourceLogs, 'scopeLogs', 'logRecords', (r, resource, scope) => ({
    severityNumber: r.severityNumber || 0, severityText: r.severityText || '', body: r.body,
    attributes: attributes(r.attributes), resource, scope,
  }));
  return { spans: [], logs };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/respond') {
      const signal = url.searchParams.get('signal') || 'traces';
      if (!overrides[signal]) {
        res.writeHead(400);
        res.end(`unknown signal ${signal}\n`);
        return;
      }
      overrides[signal] = { status: Number(url.searchParams.get('status')), count: Number(url.searchParams.get('count')) };
      res.end('ok\n');
      return;
    }
    const route = SIGNALS[url.pathname];
    const body = Buffer.concat(chunks);
    let status = 404;
    let decoded = { spans: [], logs: [] };
    let error = '';
    if (route) {
      status = 200;
      const override = overrides[route.signal];
      if (override.count > 0) {
        status = override.status;
        override.count -= 1;
      }
      try {
        decoded = route.flatten(route.type.toObject(route.type.decode(body), { longs: String, bytes: String, defaults: false }));
      } catch (e) {
        error = String(e);
        status = 400;
      }
    }
    fs.appendFileSync(out, JSON.stringify({ path: url.pathname, signal: route?.signal || '', type: req.headers['content-type'],
                                            status, error, spans: decoded.spans, logs: decoded.logs,
                                            raw: body.toString('base64') }) + '\n');
    res.writeHead(status, { 'content-type': 'application/x-protobuf' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
