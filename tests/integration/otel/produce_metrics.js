// Produces metrics with the real OpenTelemetry JS SDK and exports them over OTLP/HTTP (protobuf or
// JSON) to the porthole-agent receiver, `--rounds` times (one export per round, through the
// MeterProvider's forceFlush). Prints one JSON object: the exporter's result codes. Run inside the
// simulated enclave by test_otlp_metrics.py.
//   node produce_metrics.js --url http://127.0.0.1:4318/v1/metrics --protocol proto|json
//                           --temporality cumulative|delta --service NAME --rounds N
// Per round: counter itest.requests +5 {route:/a, user.id}, up-down counter itest.inflight +3 -1,
// histogram itest.latency (ms; bounds 10, 100, 1000) 5, 50, 500, 5000, exponential histogram
// itest.size (By) 3, 5, 100, gauge itest.temperature 20.5 + round, counter itest.secret.tokens +1.
'use strict';
const { MeterProvider, PeriodicExportingMetricReader, AggregationType } = require('@opentelemetry/sdk-metrics');
const { resourceFromAttributes } = require('@opentelemetry/resources');

const { arg } = require('./cli');

async function main() {
  const url = arg('url', 'http://127.0.0.1:4318/v1/metrics');
  const protocol = arg('protocol', 'proto');
  const rounds = Number(arg('rounds', '2'));
  const pkg = protocol === 'proto' ? '@opentelemetry/exporter-metrics-otlp-proto' : '@opentelemetry/exporter-metrics-otlp-http';
  const { OTLPMetricExporter } = require(pkg);
  const { AggregationTemporalityPreference } = require('@opentelemetry/exporter-metrics-otlp-http');
  const exporter = new OTLPMetricExporter({
    url,
    timeoutMillis: 10000,
    temporalityPreference: arg('temporality', 'cumulative') === 'delta'
      ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE,
  });
  const results = [];
  // Record what the exporter reports, so the test can tell "sent" from "refused".
  const exportOriginal = exporter.export.bind(exporter);
  exporter.export = (metrics, done) => exportOriginal(metrics, (r) => { results.push(r.code); done(r); });

  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': arg('service', 'otel-itest'),
      'service.instance.id': 'instance-1',
      'service.version': '1.2.3',
      'host.secret': 'SECRET-RESOURCE',
    }),
    views: [{ instrumentName: 'itest.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    // Exports only when flushed: the interval is longer than the run.
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600000 })],
  });
  const meter = provider.getMeter('porthole-itest', '0.1');
  const requests = meter.createCounter('itest.requests', { unit: '{request}', description: 'Requests served.' });
  const inflight = meter.createUpDownCounter('itest.inflight', { description: 'Requests in flight.' });
  const latency = meter.createHistogram('itest.latency', {
    unit: 'ms', description: 'Request latency.', advice: { explicitBucketBoundaries: [10, 100, 1000] },
  });
  const size = meter.createHistogram('itest.size', { unit: 'By' });
  const temperature = meter.createGauge('itest.temperature', { unit: 'Cel' });
  const secret = meter.createCounter('itest.secret.tokens');

  for (let round = 0; round < rounds; ++round) {
    requests.add(5, { route: '/a', 'user.id': 'SECRET-USER' });
    inflight.add(3);
    inflight.add(-1);
    for (const v of [5, 50, 500, 5000]) latency.record(v);
    for (const v of [3, 5, 100]) size.record(v);
    temperature.record(20.5 + round, { room: 'lab' });
    secret.add(1);
    await provider.forceFlush();
  }
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ results }) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
