// A test OTLP/HTTP collector for test_telemetry.py: receives the sidecar's export on
// /v1/traces (protobuf, decoded with @opentelemetry/otlp-transformer 0.52.1's generated root)
// and appends one JSON line per request to --out: {"status": answered, "spans": [...], "raw": base64}.
// GET /respond?status=503&count=2 makes the next `count` requests get `status`.
// Prints "port N" once listening on 127.0.0.1 (port 0: a free one).
'use strict';
const fs = require('fs');
const http = require('http');
const root = require('decoder/build/src/generated/root');

const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const out = process.argv[process.argv.indexOf('--out') + 1];
let override = { status: 200, count: 0 };

const hex = (b64) => Buffer.from(b64 || '', 'base64').toString('hex');

function flatten(decoded) {
  const spans = [];
  for (const rs of decoded.resourceSpans || []) {
    const resource = Object.fromEntries((rs.resource?.attributes || []).map((a) => [a.key, a.value]));
    for (const ss of rs.scopeSpans || []) {
      for (const s of ss.spans || []) {
        spans.push({
          traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), name: s.name,
          kind: s.kind, attributes: Object.fromEntries((s.attributes || []).map((a) => [a.key, a.value])),
          droppedAttributesCount: s.droppedAttributesCount || 0, resource, scope: ss.scope?.name || '',
        });
      }
    }
  }
  return spans;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/respond') {
      override = { status: Number(url.searchParams.get('status')), count: Number(url.searchParams.get('count')) };
      res.end('ok\n');
      return;
    }
    const body = Buffer.concat(chunks);
    let status = 200;
    if (override.count > 0) {
      status = override.status;
      override.count -= 1;
    }
    let spans = [];
    let error = '';
    try {
      const decoded = Request.toObject(Request.decode(body), { longs: String, bytes: String, defaults: false });
      spans = flatten(decoded);
    } catch (e) {
      error = String(e);
      status = 400;
    }
    fs.appendFileSync(out, JSON.stringify({ path: url.pathname, type: req.headers['content-type'], status, error, spans,
                                            raw: body.toString('base64') }) + '\n');
    res.writeHead(status, { 'content-type': 'application/x-protobuf' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
