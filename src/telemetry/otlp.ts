/**
 * The OTLP/HTTP JSON trace exporter. Loaded only when tracing is on (see Telemetry.ts).
 */
import type { Duration } from "effect"
import { Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import type { TracingConfig } from "./Telemetry.ts"

export const layer = (config: TracingConfig, shutdownTimeout: Duration.Input): Layer.Layer<never> =>
  OtlpTracer.layer({
    url: config.url,
    headers: config.headers,
    resource: { serviceName: config.serviceName, serviceVersion: config.serviceVersion, attributes: config.attributes },
    shutdownTimeout
  }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))
