/**
 * The OTLP/HTTP JSON trace and metrics exporters. Loaded only when telemetry is on (see Telemetry.ts).
 */
import type { Duration } from "effect"
import { Layer } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import { OtlpMetrics, OtlpSerialization, OtlpTracer } from "effect/observability"
import type { MetricsConfig, TracingConfig } from "./Telemetry.ts"

const resource = (config: TracingConfig) => ({ serviceName: config.serviceName, serviceVersion: config.serviceVersion, attributes: config.attributes })

export const layer = (
  config: { readonly traces: TracingConfig | undefined; readonly metrics: MetricsConfig | undefined },
  shutdownTimeout: Duration.Input
): Layer.Layer<never> => {
  const signals: Array<Layer.Layer<never, never, HttpClient.HttpClient | OtlpSerialization.OtlpSerialization>> = []
  if (config.traces !== undefined) {
    signals.push(OtlpTracer.layer({ url: config.traces.url, headers: config.traces.headers, resource: resource(config.traces), shutdownTimeout }))
  }
  if (config.metrics !== undefined) {
    signals.push(OtlpMetrics.layer({
      url: config.metrics.url,
      headers: config.metrics.headers,
      resource: resource(config.metrics),
      exportInterval: `${config.metrics.exportIntervalMillis} millis`,
      shutdownTimeout
    }))
  }
  // mergeAll builds (and, at exit, flushes) the exporters concurrently, so the flush bound is not summed.
  return Layer.mergeAll(...(signals as [(typeof signals)[number]])).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))
}
