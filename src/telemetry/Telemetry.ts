/**
 * Traces, metrics and logs over OTLP through the OpenTelemetry SDK, switched by `telemetry.traces`
 * in config and the standard OTEL_* variables. When off, the SDK is not even loaded (`./sdk.ts`
 * comes in through a dynamic import), so the CLI starts as fast as without telemetry.
 *
 * - `off`: never exported.
 * - `auto` (the default): on when an OTLP endpoint variable is set (OTEL_EXPORTER_OTLP_ENDPOINT or
 *   OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT).
 * - `otlp`: always on; without an endpoint variable the SDK's default, http://localhost:4318.
 *
 * OTEL_SDK_DISABLED=true turns everything off; the SDK itself honours the rest (exporters and
 * protocols per signal, headers, sampler, resource attributes, service name, intervals).
 *
 * Also here: `--log-format json`, one JSON object per log line with the trace and span ids.
 * Every log line, on the console and over OTLP, and every span passes through Secrets.scrub.
 */
import { Effect, Layer, Logger, LogLevel, References } from "effect"
import * as Secrets from "../secrets/Secrets.ts"

export type Env = Readonly<Record<string, string | undefined>>
export type TelemetryMode = "auto" | "otlp" | "off"

const set = (value: string | undefined): string | undefined => (value === undefined || value.trim() === "" ? undefined : value.trim())

const endpointVariables = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"]

/** Whether the SDK is loaded at all for this mode and environment. Pure. */
export const isEnabled = (mode: TelemetryMode, env: Env): boolean => {
  if (mode === "off" || set(env["OTEL_SDK_DISABLED"])?.toLowerCase() === "true") return false
  return mode === "otlp" || endpointVariables.some((name) => set(env[name]) !== undefined)
}

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

/** The service name: OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES, else "medallion". */
export const serviceName = (env: Env): string => set(env["OTEL_SERVICE_NAME"]) ?? parseKeyValues(env["OTEL_RESOURCE_ATTRIBUTES"])["service.name"] ?? "medallion"

/** How long exit may wait for the last spans, metrics and logs to reach the collector. */
const shutdownTimeout = "2 seconds"

/**
 * The telemetry layer: while in scope, spans, metrics and logs go to the SDK's exporters; when the
 * scope closes they are flushed for at most `shutdownTimeout`. Layer.empty when off.
 */
export const layer = (options: {
  readonly serviceVersion: string
  readonly mode: TelemetryMode
  readonly env?: Env | undefined
  /** The unit of each metric by name (`s`, `{row}`), which exporters carry; Effect's metrics have none. */
  readonly metricUnits?: Readonly<Record<string, string>> | undefined
}): Layer.Layer<never> => {
  const env = options.env ?? globalThis.process.env
  if (!isEnabled(options.mode, env)) return Layer.empty
  // Exporter headers carry collector credentials (`Authorization=Bearer ...`, API keys).
  for (const name of ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"]) {
    Secrets.register(...Object.values(parseKeyValues(env[name])).flatMap((value) => [value, ...value.split(/\s+/).slice(1)]))
  }
  return Layer.unwrap(
    // biome-ignore lint/suspicious/noImportCycles: sdk.ts imports this module, and is imported only here, on demand, when both have loaded
    Effect.promise(() => import("./sdk.ts")).pipe(
      Effect.map((sdk) => sdk.layer({ serviceName: serviceName(env), serviceVersion: options.serviceVersion, env, shutdownTimeout, metricUnits: options.metricUnits ?? {} }))
    )
  )
}

export type LogFormat = "text" | "json"

/**
 * One JSON object per line on stderr: time, level, message, annotations, and the trace and span
 * ids of the span the line was logged in, so a log line leads to its trace.
 */
const jsonLogger = Logger.make(({ cause, date, fiber, logLevel, message }) => {
  const span = fiber.cache.span
  const messages = Array.isArray(message) ? message : [message]
  const line: Record<string, unknown> = {
    time: date.toISOString(),
    level: logLevel.toUpperCase(),
    message: messages.map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")
  }
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  if (Object.keys(annotations).length > 0) line["attributes"] = annotations
  if (span !== undefined) {
    line["trace_id"] = span.traceId
    line["span_id"] = span.spanId
  }
  if (cause.reasons.length > 0) line["error"] = String(cause)
  globalThis.console.error(Secrets.scrub(JSON.stringify(line)))
})

/** Log annotations, to tell whether a record is kept off the terminal. */
export type Annotations = Readonly<Record<string, unknown>>

/**
 * Text mode keeps stdout for the command's own output: log lines of level Warn and above go to
 * stderr, one line each, except those `quiet` says the output already shows; the rest reaches only
 * the OTLP exporter (when on), and the JSON logger keeps everything.
 */
const textLogger = (quiet: (annotations: Annotations) => boolean = () => false) =>
  Logger.make((options) => {
    if (!LogLevel.isGreaterThanOrEqualTo(options.logLevel, "Warn")) return
    if (quiet(options.fiber.getRef(References.CurrentLogAnnotations))) return
    globalThis.console.error(Secrets.scrub(Logger.formatSimple.log(options)))
  })

/**
 * The console logger for a log format (replacing Effect's default one), the tracer logger that
 * records each log as an event on its span, and the minimum level of every logger.
 */
export const logLayer = (format: LogFormat, minimumLevel: LogLevel.LogLevel, quiet?: (annotations: Annotations) => boolean): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([format === "json" ? jsonLogger : textLogger(quiet), Secrets.scrubbingLogger(Logger.tracerLogger)]),
    Layer.succeed(References.MinimumLogLevel, minimumLevel)
  )
