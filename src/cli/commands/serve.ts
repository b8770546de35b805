/**
 * `medallion serve [files]`: the REST API over gold and the run history, and the cron scheduler, in
 * one long-running process that owns the warehouse: it holds the warehouse lock (the same one
 * `apply` takes) for as long as it runs, so runs go through it. The server itself (src/api) is
 * loaded only by this command, so the other commands start as fast as before.
 */
import { Console, Effect, Layer, type LogLevel, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { withLock } from "../../runtime/Lock.ts"
import { units } from "../../runtime/metrics.ts"
import type { Settings } from "../../settings/Settings.ts"
import { SpecError } from "../../spec/SpecError.ts"
import * as Telemetry from "../../telemetry/Telemetry.ts"
import { engineLayer, envFlag, planFor, projectDir, settingsFor } from "../context.ts"
import { LogFormat } from "../observability.ts"
import { version } from "../version.ts"

const levels: Record<Settings["logLevel"], LogLevel.LogLevel> = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" }
const loopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.")

export const serve = Command.make(
  "serve",
  {
    files: Argument.String("files").pipe(Argument.withDescription("Pipeline files (default: pipelines/*.yaml)"), Argument.variadic()),
    port: Flag.Int("port").pipe(Flag.withDescription("Port to listen on (default: api.port, else 8080; 0 picks a free one)"), Flag.optional),
    host: Flag.String("host").pipe(Flag.withDescription("Address to listen on (default: api.host, else 127.0.0.1)"), Flag.optional),
    env: envFlag,
    wait: Flag.Boolean("wait").pipe(Flag.withDescription("If an apply holds the warehouse, wait for it to finish instead of failing"), Flag.withDefault(false))
  },
  ({ files, port, host, env, wait }) =>
    Effect.gen(function* () {
      const settings = yield* settingsFor(Option.getOrUndefined(env))
      if (settings.engine !== "duckdb") {
        // The API reads gold through DuckDB's catalog and bound parameters; Databricks has neither wired here yet.
        return yield* new SpecError({
          problems: [
            {
              file: `config/${settings.env}.yaml`,
              line: 1,
              column: 1,
              message: `medallion serve runs on engine: duckdb only in this version (this config has engine: ${settings.engine}); use apply for Databricks`
            }
          ]
        })
      }
      const plan = yield* planFor(files)
      const { apiConfig } = yield* Effect.promise(() => import("../../api/config.ts"))
      const server = yield* Effect.promise(() => import("../../api/server.ts"))
      const api = apiConfig(settings.file.api, { host: Option.getOrUndefined(host), port: Option.getOrUndefined(port) })
      const format = yield* LogFormat
      const scheduled = plan.pipelines.filter((p) => p.schedule !== undefined).length

      yield* Effect.gen(function* () {
        const context = yield* Layer.build(
          server.layer({
            plan,
            projectDir: yield* projectDir,
            env: settings.env,
            concurrency: settings.concurrency,
            api,
            onRunFinished: (line) => Console.log(line)
          })
        )
        const address = yield* server.address.pipe(Effect.provideContext(context))
        const authenticator = context.mapUnsafe.get(server.Authenticator.key) as { readonly enabled: boolean; readonly methods: ReadonlyArray<string> }
        yield* Console.log(
          `medallion serve: ${address} (docs ${address}/docs); ${plan.pipelines.length} pipeline(s), ${scheduled} scheduled; ` +
            `auth: ${authenticator.enabled ? authenticator.methods.join(", ") : "off"}; warehouse ${settings.duckdb.path}`
        )
        if (!authenticator.enabled) {
          yield* Console.error(
            loopback(api.host)
              ? "warning: auth is off: any local process can read gold and start runs; set api.auth (MEDALLION_JWT_SECRET, api keys or a JWKS URL)"
              : `warning: auth is off and the server listens on ${api.host}: anyone who can reach it can read gold and start runs; set api.auth`
          )
        }
        return yield* Effect.never
      }).pipe(
        Effect.scoped,
        Effect.provide(engineLayer(settings, { serveReads: true })),
        // Held for the server's whole life, so a CLI apply fails at once naming the server.
        withLock({
          database: settings.duckdb.path,
          command: "medallion serve",
          wait,
          onWaiting: (held) => Console.error(`waiting: the warehouse ${held.database} is in use by ${held.holderText}; checking every 0.5 s`),
          onTakeover: (stale) => Console.error(`took over a stale lock ${stale.lockFile}: ${stale.reason}`)
        }),
        // No root span around the server: each request's span starts its own trace (or continues the caller's).
        Effect.provide(Telemetry.layer({ serviceVersion: version, mode: settings.telemetry, metricUnits: units })),
        Effect.provide(Telemetry.logLayer(format, levels[settings.logLevel]))
      )
    })
).pipe(Command.withDescription("Serve gold tables and run history over HTTP and run pipelines on their schedules"))
