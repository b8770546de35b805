/**
 * Tracing, switched by the standard OpenTelemetry variables. Off by default; when off, the
 * exporter modules are not even loaded (`./otlp.ts` comes in through a dynamic import), so the
 * CLI starts as fast as without tracing.
 *
 * On when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or OTEL_EXPORTER_OTLP_ENDPOINT
 * (+ "/v1/traces") is set, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
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

/** The tracing configuration from the environment, or undefined when tracing is off. */
export const tracingConfig = (env: Env, serviceVersion: string): TracingConfig | undefined => {
  if (set(env["OTEL_SDK_DISABLED"])?.toLowerCase() === "true") return undefined
  if (set(env["OTEL_TRACES_EXPORTER"])?.toLowerCase() === "none") return undefined
  const tracesEndpoint = set(env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
  const endpoint = set(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
  const url = tracesEndpoint ?? (endpoint === undefined ? undefined : `${endpoint.replace(/\/+$/, "")}/v1/traces`)
  if (url === undefined) return undefined
  const attributes = parseKeyValues(env["OTEL_RESOURCE_ATTRIBUTES"])
  return {
    url,
    headers: { ...parseKeyValues(env["OTEL_EXPORTER_OTLP_HEADERS"]), ...parseKeyValues(env["OTEL_EXPORTER_OTLP_TRACES_HEADERS"]) },
    serviceName: set(env["OTEL_SERVICE_NAME"]) ?? attributes["service.name"] ?? "medallion",
    serviceVersion,
    attributes
  }
}

/** How long exit may wait for the last spans to reach the collector. */
export const shutdownTimeout = "2 seconds"

/**
 * The tracing layer: OTLP/HTTP JSON export of every span while it is in scope, flushed (for at most
 * `shutdownTimeout`) when the scope closes; Layer.empty when tracing is off.
 */
export const layer = (options: { readonly serviceVersion: string; readonly env?: Env | undefined }): Layer.Layer<never> => {
  const config = tracingConfig(options.env ?? globalThis.process.env, options.serviceVersion)
  if (config === undefined) return Layer.empty
  return Layer.unwrap(Effect.promise(() => import("./otlp.ts")).pipe(Effect.map((otlp) => otlp.layer(config, shutdownTimeout))))
}
