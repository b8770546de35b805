/**
 * Tracing and metrics, switched by the standard OpenTelemetry variables. Off by default; when off,
 * the exporter modules are not even loaded (`./otlp.ts` comes in through a dynamic import), so the
 * CLI starts as fast as without telemetry.
 *
 * Traces are on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or OTEL_EXPORTER_OTLP_ENDPOINT
 * (+ "/v1/traces") is set, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Metrics follow
 * the same rules with OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/metrics"),
 * OTEL_EXPORTER_OTLP_METRICS_HEADERS and OTEL_METRICS_EXPORTER=none.
 */
import { Effect, Layer } from "effect"

export interface TracingConfig {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly serviceName: string
  readonly serviceVersion: string
  readonly attributes: Readonly<Record<string, string>>
}

export type Env = Readonly<Record<string, string | undefined>>

/** "k=v,k2=v2", URL-decoded, as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES spell it. */
export const parseKeyValues = (text: string | undefined): Record<string, string> => {
  const result: Record<string, string> = {}
  for (const part of (text ?? "").split(",")) {
    const eq = part.indexOf("=")
    if (eq <= 0) continue
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.trim())
      } catch {
        return s.trim()
      }
    }
    const key = decode(part.slice(0, eq))
    if (key !== "") result[key] = decode(part.slice(eq + 1))
  }
  return result
}

const set = (value: string | undefined): string | undefined => (value === undefined || value.trim() === "" ? undefined : value.trim())

type Signal = "TRACES" | "METRICS"

/** One signal's exporter configuration from the environment, or undefined when that signal is off. */
const signalConfig = (env: Env, serviceVersion: string, signal: Signal): TracingConfig | undefined => {
  if (set(env["OTEL_SDK_DISABLED"])?.toLowerCase() === "true") return undefined
  if (set(env[`OTEL_${signal}_EXPORTER`])?.toLowerCase() === "none") return undefined
  const signalEndpoint = set(env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`])
  const endpoint = set(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
  const path = signal === "TRACES" ? "/v1/traces" : "/v1/metrics"
  const url = signalEndpoint ?? (endpoint === undefined ? undefined : `${endpoint.replace(/\/+$/, "")}${path}`)
  if (url === undefined) return undefined
  const attributes = parseKeyValues(env["OTEL_RESOURCE_ATTRIBUTES"])
  return {
    url,
    headers: { ...parseKeyValues(env["OTEL_EXPORTER_OTLP_HEADERS"]), ...parseKeyValues(env[`OTEL_EXPORTER_OTLP_${signal}_HEADERS`]) },
    serviceName: set(env["OTEL_SERVICE_NAME"]) ?? attributes["service.name"] ?? "medallion",
    serviceVersion,
    attributes
  }
}

/** The tracing configuration from the environment, or undefined when tracing is off. */
export const tracingConfig = (env: Env, serviceVersion: string): TracingConfig | undefined => signalConfig(env, serviceVersion, "TRACES")

export interface MetricsConfig extends TracingConfig {
  /** How often metrics are pushed while the process runs (OTEL_METRIC_EXPORT_INTERVAL, ms); they are always pushed at exit. */
  readonly exportIntervalMillis: number
}

/** The metrics configuration from the environment, or undefined when metrics export is off. */
export const metricsConfig = (env: Env, serviceVersion: string): MetricsConfig | undefined => {
  const config = signalConfig(env, serviceVersion, "METRICS")
  if (config === undefined) return undefined
  const interval = Number(set(env["OTEL_METRIC_EXPORT_INTERVAL"]) ?? "60000")
  return { ...config, exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60_000 }
}

/** How long exit may wait for the last spans and metrics to reach the collector (both flush concurrently). */
export const shutdownTimeout = "2 seconds"

/**
 * The telemetry layer: OTLP/HTTP JSON export of every span and of the metrics while it is in scope,
 * flushed (for at most `shutdownTimeout`) when the scope closes; Layer.empty when both are off.
 */
export const layer = (options: { readonly serviceVersion: string; readonly env?: Env | undefined }): Layer.Layer<never> => {
  const env = options.env ?? globalThis.process.env
  const traces = tracingConfig(env, options.serviceVersion)
  const metrics = metricsConfig(env, options.serviceVersion)
  if (traces === undefined && metrics === undefined) return Layer.empty
  return Layer.unwrap(Effect.promise(() => import("./otlp.ts")).pipe(Effect.map((otlp) => otlp.layer({ traces, metrics }, shutdownTimeout))))
}
