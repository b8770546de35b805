/**
 * The OpenTelemetry SDK behind Effect's tracer, metrics and logger. Loaded only when telemetry is
 * on (see Telemetry.ts).
 *
 * `NodeSDK` (@opentelemetry/sdk-node) configures traces and logs from the standard OTEL_* variables:
 * exporters and protocols per signal (default OTLP http/protobuf to localhost:4318), headers,
 * sampler (OTEL_TRACES_SAMPLER), propagators, resource detectors and attributes. Effect's spans and
 * logs reach it through @effect/opentelemetry, every span and log record through the secrets
 * scrubber first. Effect's metrics need a reader of their own (a reader has one producer), built
 * here with the exporter OTEL_EXPORTER_OTLP_METRICS_PROTOCOL names, and carry their units.
 */
import { OtelLogger, OtelMetrics, OtelTracer, Resource } from "@effect/opentelemetry"
import { context, propagation, trace } from "@opentelemetry/api"
import { logs } from "@opentelemetry/api-logs"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { LoggerProvider } from "@opentelemetry/sdk-logs"
import { type MetricProducer, type MetricReader, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics"
import { NodeSDK } from "@opentelemetry/sdk-node"
import { type Duration, Effect, Layer, Logger, Tracer } from "effect"
import * as Secrets from "../secrets/Secrets.ts"
// biome-ignore lint/suspicious/noImportCycles: Telemetry.ts imports this module only on demand (import()), once it has loaded
import { type Env, parseKeyValues } from "./Telemetry.ts"

export interface SdkOptions {
  readonly serviceName: string
  readonly serviceVersion: string
  readonly env: Env
  readonly shutdownTimeout: Duration.Input
  /** The unit of each metric by name. */
  readonly metricUnits: Readonly<Record<string, string>>
}

const lower = (value: string | undefined) => value?.trim().toLowerCase() || undefined

/** The OTLP metrics exporter for the configured protocol, or undefined when metrics are off. */
const metricExporter = async (env: Env): Promise<PushMetricExporter | undefined> => {
  const exporters = (lower(env["OTEL_METRICS_EXPORTER"]) ?? "otlp").split(",").map((s) => s.trim())
  if (!exporters.includes("otlp")) return undefined
  const protocol = lower(env["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"]) ?? lower(env["OTEL_EXPORTER_OTLP_PROTOCOL"]) ?? "http/protobuf"
  if (protocol === "http/json") return new (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter()
  if (protocol === "grpc") return new (await import("@opentelemetry/exporter-metrics-otlp-grpc")).OTLPMetricExporter()
  return new (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter()
}

/** Starts the SDK for the layer's lifetime; on release flushes and shuts it down within the bound. */
const startSdk = (options: SdkOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const sdk = new NodeSDK({
        serviceName: options.serviceName,
        resource: resourceFromAttributes({ "service.version": options.serviceVersion }),
        metricReaders: [], // Effect's metrics get their own reader below
        instrumentations: []
      })
      sdk.start()
      return sdk
    }),
    (sdk) =>
      Effect.promise(() => sdk.shutdown()).pipe(
        Effect.ignore,
        Effect.interruptible,
        Effect.timeoutOption(options.shutdownTimeout),
        // Unregister the globals so a later SDK in the same process (tests, `serve` restarts) can register.
        Effect.ensuring(
          Effect.sync(() => {
            trace.disable()
            logs.disable()
            propagation.disable()
            context.disable()
          })
        )
      )
  )

/** Effect's spans on the global OpenTelemetry tracer, each scrubbed of secrets (Secrets.scrubSpan). */
const scrubbedTracer = Layer.effect(
  Tracer.Tracer,
  Effect.map(OtelTracer.make, (inner) =>
    Tracer.make({
      span: (options) => Secrets.scrubSpan(inner.span(options)),
      ...(inner.context === undefined ? {} : { context: inner.context })
    })
  )
).pipe(Layer.provideMerge(OtelTracer.layerGlobalTracer))

/**
 * The metric descriptors with their units (from runtime/metrics.ts, by way of the CLI):
 * @effect/opentelemetry reports `1` for every metric, whose values would then read as plain
 * numbers rather than seconds.
 */
const withUnits = (producer: MetricProducer, units: Readonly<Record<string, string>>): MetricProducer => ({
  collect: async (options) => {
    const result = await producer.collect(options)
    const scopeMetrics = result.resourceMetrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.map((metric) => {
        const unit = units[metric.descriptor.name]
        return unit === undefined ? metric : { ...metric, descriptor: { ...metric.descriptor, unit } }
      })
    }))
    return { ...result, resourceMetrics: { ...result.resourceMetrics, scopeMetrics } }
  }
})

/**
 * Two parts built side by side, so that at exit their flushes run concurrently and the whole
 * flush stays within one `shutdownTimeout`: the SDK (traces and logs) and the metrics reader.
 */
export const layer = (options: SdkOptions): Layer.Layer<never> => {
  const resource = Resource.layer({
    serviceName: options.serviceName,
    serviceVersion: options.serviceVersion,
    attributes: parseKeyValues(options.env["OTEL_RESOURCE_ATTRIBUTES"])
  })
  const tracesAndLogs = Layer.unwrap(
    Effect.gen(function* () {
      yield* startSdk(options)
      const loggerProvider = logs.getLoggerProvider()
      // The SDK registers a LoggerProvider unless OTEL_LOGS_EXPORTER=none; then logs stay local.
      const logging =
        loggerProvider instanceof LoggerProvider
          ? Logger.layer([Effect.map(OtelLogger.make, Secrets.scrubbingLogger)], { mergeWithExisting: true }).pipe(
              Layer.provide(Layer.succeed(OtelLogger.OtelLoggerProvider, loggerProvider))
            )
          : Layer.empty
      return Layer.mergeAll(scrubbedTracer, logging)
    })
  )
  const metrics = Layer.unwrap(
    Effect.promise(() => metricExporter(options.env)).pipe(
      Effect.map((exporter) => {
        if (exporter === undefined) return Layer.empty
        const reader: MetricReader = new PeriodicExportingMetricReader({ exporter })
        return Layer.effectDiscard(
          Effect.flatMap(OtelMetrics.makeProducer(), (producer) =>
            OtelMetrics.registerProducer(withUnits(producer, options.metricUnits), () => reader, { shutdownTimeout: options.shutdownTimeout })
          )
        ).pipe(Layer.provide(resource))
      })
    )
  )
  return Layer.mergeAll(tracesAndLogs, metrics)
}
