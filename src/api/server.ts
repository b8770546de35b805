/**
 * `medallion serve`: the HTTP server over the Api contract (handlers.ts, middleware.ts), the run
 * coordinator and the scheduler, composed into one layer.
 *
 * On shutdown (the layer's scope closing, e.g. on SIGTERM) the parts stop in this order: the HTTP
 * server stops accepting and finishes the requests in flight, the scheduler stops firing, the
 * coordinator lets the running run finish within `api.shutdown_grace` and then cancels it.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer } from "effect"
import { FetchHttpClient, HttpMiddleware, HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder, HttpApiSwagger } from "effect/http-api"
import * as RunHistoryLive from "../metadata/RunHistory.ts"
import { RunHistory } from "../metadata/RunHistory.ts"
import * as Coordinator from "../runtime/RunCoordinator.ts"
import type { RunRequest } from "../runtime/RunCoordinator.ts"
import { apply } from "../runtime/Runner.ts"
import * as SchedulerLive from "../runtime/Scheduler.ts"
import { Api } from "./Api.ts"
import * as Auth from "./Auth.ts"
import * as Handlers from "./handlers.ts"
import { type GoldCache, makeGoldCache, tablesOf } from "./handlers.ts"
import { AuthenticationLive, Authenticator, edgeMiddleware, RequestValidationLive, serverSpanName } from "./middleware.ts"

export { Authenticator }

export interface ServeOptions extends Handlers.HandlersOptions {
  readonly projectDir: string
  readonly concurrency: number
  /** Printed when a run finishes, for the server's output. */
  readonly onRunFinished?: ((line: string) => Effect.Effect<void>) | undefined
}

// ---------------------------------------------------------------------------------------------
// Composition

/** What a run is: the pipeline's tables through Runner.apply, continuing the caller's trace when there is one. */
const runPipeline = (options: ServeOptions, cache: GoldCache) => (request: RunRequest, batchId: string) => {
  const selected = new Set(tablesOf(options.plan, request.pipeline))
  const run = apply(options.plan, {
    projectDir: options.projectDir,
    env: options.env,
    selected,
    concurrency: options.concurrency,
    fullRefresh: request.fullRefresh === true ? selected : new Set(),
    batchId
  }).pipe(
    Effect.tap((report) => {
      const failed = report.tables.filter((t) => t.status === "failed").map((t) => t.table)
      const line = `run ${batchId} (${request.pipeline}, ${request.trigger}): ${report.run.status} in ${report.run.duration_seconds.toFixed(2)}s, ${report.run.records_in} rows in, ${report.run.records_out} out${failed.length > 0 ? `; failed: ${failed.join(", ")}` : ""}`
      return options.onRunFinished === undefined ? Effect.logInfo(line) : options.onRunFinished(line)
    }),
    // Tables may have been created, rebuilt or changed shape, whatever the outcome.
    Effect.ensuring(cache.invalidate)
  )
  return request.parent === undefined ? run : Effect.withParentSpan(run, request.parent)
}

/**
 * The whole server: HTTP, scheduler and coordinator. Needs the engine (Executor, MetadataStore)
 * and the platform; holding the warehouse lock is the caller's job.
 */
export const layer = (options: ServeOptions) => {
  const { api: config } = options
  const schedules = options.plan.pipelines.flatMap((p) =>
    p.schedule === undefined ? [] : [{ pipeline: p.pipeline, cron: p.schedule.cron, timezone: p.schedule.timezone, catchUp: p.schedule.catch_up }]
  )
  const cache = makeGoldCache(options.plan)
  const coordinator = Coordinator.layer({ run: runPipeline(options, cache), grace: config.shutdownGrace })
  const scheduler = Layer.unwrap(
    Effect.gen(function* () {
      const history = yield* RunHistory
      return SchedulerLive.layer({ schedules, lastStarted: history.lastStarted })
    })
  )
  const authenticator = Layer.effect(Authenticator, Auth.make(config.auth)).pipe(Layer.provide(FetchHttpClient.layer))

  const routes = HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide(Handlers.layer(options, cache)),
    Layer.provide([AuthenticationLive, RequestValidationLive])
  )
  const app = Layer.mergeAll(
    routes,
    HttpApiSwagger.layer(Api, { path: "/docs" }),
    edgeMiddleware(config),
    config.cors === undefined
      ? Layer.empty
      : HttpRouter.cors({
          allowedOrigins: config.cors.origins,
          credentials: config.cors.credentials,
          allowedHeaders: ["authorization", "content-type", "x-api-key", "traceparent", "tracestate"],
          allowedMethods: ["GET", "POST", "OPTIONS"],
          maxAge: 600
        })
  )
  const http = HttpRouter.serve(app, { disableLogger: !config.accessLog, disableListenLog: true }).pipe(
    // Server spans named `{method} {route}` (POST /pipelines/{name}/runs), not by the method alone.
    Layer.provide(Layer.succeed(HttpMiddleware.SpanNameGenerator, serverSpanName)),
    Layer.provideMerge(
      NodeHttpServer.layer(() => createServer({ requestTimeout: 60_000, headersTimeout: 20_000 }), {
        port: config.port,
        host: config.host,
        gracefulShutdownTimeout: "10 seconds"
      })
    )
  )
  return http.pipe(Layer.provideMerge(scheduler), Layer.provideMerge(coordinator), Layer.provideMerge(authenticator), Layer.provideMerge(RunHistoryLive.layer))
}

/** The address the server listens on, e.g. http://127.0.0.1:8080. */
export const address = Effect.map(HttpServer.HttpServer, (server) => HttpServer.formatAddress(server.address))
