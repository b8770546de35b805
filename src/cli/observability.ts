/**
 * Telemetry and logging around a command's work: the OpenTelemetry SDK as `telemetry.traces` and
 * OTEL_* ask (flushed when the work ends, however it ends), `--log-format` and `log_level`, and the
 * command's root span, so that loading specs, opening the warehouse and the run share one trace.
 */
import { Effect, type LogLevel } from "effect"
import { Flag, GlobalFlag } from "effect/cli"
import { units } from "../runtime/metrics.ts"
import { shownInOutput } from "../runtime/logs.ts"
import type { Settings } from "../settings/Settings.ts"
import * as Telemetry from "../telemetry/Telemetry.ts"
import { version } from "./version.ts"

export const LogFormat = GlobalFlag.Setting("log-format")({
  flag: Flag.Literals("log-format", ["text", "json"]).pipe(
    Flag.withDescription("Log lines (stderr) as text, or as JSON with the trace and span ids of the line"),
    Flag.withDefault("text" as const)
  )
})

const levels: Record<Settings["logLevel"], LogLevel.LogLevel> = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" }

/** Runs `work` as the root span `name`, with telemetry and the log format and level of these settings. */
export const observed =
  (settings: Settings, name: string, attributes: Readonly<Record<string, unknown>>) =>
  <A, E, R>(work: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const format = yield* LogFormat
      return yield* work.pipe(
        Effect.withSpan(name, { attributes: { "medallion.env": settings.env, "medallion.engine": settings.engine, ...attributes }, root: true }),
        // Inner: built under the log format's loggers, so the OTLP logger is added to them, not replaced.
        Effect.provide(Telemetry.layer({ serviceVersion: version, mode: settings.telemetry, metricUnits: units })),
        Effect.provide(Telemetry.logLayer(format, levels[settings.logLevel], (annotations) => annotations[shownInOutput] === true))
      )
    })
