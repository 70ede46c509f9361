// Produces spans with the real OpenTelemetry JS SDK and exports them over OTLP/HTTP (protobuf or
// JSON) to the porthole-agent receiver. Prints one JSON object: the spans it made (ids, parent,
// name) and the exporter's result. Run inside the simulated enclave by test_telemetry.py.
//   node produce_spans.js --url http://127.0.0.1:4318/v1/traces --protocol proto|json --traces N
'use strict';
const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');

const { arg } = require('./cli');

async function main() {
  const url = arg('url', 'http://127.0.0.1:4318/v1/traces');
  const protocol = arg('protocol', 'proto');
  const traces = Number(arg('traces', '10'));
  const { OTLPTraceExporter } = protocol === 'proto'
    ? require('@opentelemetry/exporter-trace-otlp-proto')
    : require('@opentelemetry/exporter-trace-otlp-http');
  const exporter = new OTLPTraceExporter({ url, timeoutMillis: 10000 });
  const results = [];
  // Record what the exporter reports, so the test can tell "sent" from "refused".
  const exportOriginal = exporter.export.bind(exporter);
  exporter.export = (spans, done) => exportOriginal(spans, (r) => { results.push(r.code); done(r); });

  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'otel-itest', 'service.version': '1.2.3', 'host.secret': 'SECRET-RESOURCE' }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 64, scheduledDelayMillis: 100 })],
  });
  const tracer = provider.getTracer('porthole-itest', '0.1');
  const made = [];
  const record = (span, parent, name) => {
    const c = span.spanContext();
    made.push({ traceId: c.traceId, spanId: c.spanId, parentSpanId: parent ? parent.spanContext().spanId : '', name });
  };
  for (let t = 0; t < traces; ++t) {
    const root = tracer.startSpan('GET /items', {
      kind: api.SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/items/:id',
        'http.response.status_code': 200,
        'url.full': 'https://shop.example/items/7?token=SECRET-URL',
        'http.request.header.authorization': 'Bearer SECRET-AUTH',
      },
    });
    record(root, null, 'GET /items');
    const rootCtx = api.trace.setSpan(api.context.active(), root);
    const child = tracer.startSpan('SELECT items', {
      kind: api.SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM users WHERE password = SECRET-SQL' },
    }, rootCtx);
    record(child, root, 'SELECT items');
    const grandchild = tracer.startSpan('decode row', { attributes: { 'app.rows': 3 } },
                                        api.trace.setSpan(rootCtx, child));
    record(grandchild, child, 'decode row');
    grandchild.end();
    child.end();
    root.end();
  }
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ spans: made, results }) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
