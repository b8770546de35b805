/**
 * The handlers of the Api contract for `medallion serve`: thin reads of the plan, the gold catalog
 * and the run history, and runs handed to the RunCoordinator. Engine failures become problems
 * (503 when transient, 500 otherwise, the statement logged and never returned).
 */
import { Cause, Clock, Effect, Exit, Fiber, Layer, Metric, Option, Result, type Schema } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Executor, type ExecutorError } from "../executor/Executor.ts"
import { MetadataStore, type RunRecord } from "../metadata/MetadataStore.ts"
import { type PipelineRunMetrics, RunHistory } from "../metadata/RunHistory.ts"
import type { Plan, PlanNode, TableId } from "../plan/Plan.ts"
import { type ActiveRun, RunCoordinator } from "../runtime/RunCoordinator.ts"
import { type ScheduleInfo, Scheduler } from "../runtime/Scheduler.ts"
import { namePattern } from "../spec/Pipeline.ts"
import { Api, Caller, maxRunsLimit } from "./Api.ts"
import type { ApiConfig } from "./config.ts"
import * as Gold from "./gold.ts"
import { CursorExpired, type HealthCheck, Internal, InvalidRequest, PipelineNotFound, RunInProgress, RunNotFound, TableNotFound, Unavailable, Unhealthy } from "./problems.ts"
import * as Prometheus from "./prometheus.ts"
import * as Values from "./values.ts"

export interface HandlersOptions {
  readonly plan: Plan
  readonly env: string
  readonly api: ApiConfig
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Handlers run their statements to the end even when the client goes away: interrupting a DuckDB
 * statement and closing its connection at once can crash the engine, and reads take milliseconds.
 */
const steady = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.uninterruptible(effect)

/** An engine failure as a problem: transient ones are 503, others 500 (the statement is logged, never returned). */
const engineProblem = (error: ExecutorError) =>
  Effect.logError("api: engine error", error).pipe(
    Effect.andThen(
      Effect.fail(
        error.isRetryable || error.reason._tag === "CircuitOpen"
          ? new Unavailable({
              detail: `the ${error.reason._tag === "CircuitOpen" ? "engine is failing; the circuit breaker is open" : "engine is busy or unreachable"}; try again`
            })
          : new Internal({ detail: "the engine rejected a query; see the server log" })
      )
    )
  )

const isExecutorError = (e: unknown): e is ExecutorError => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "ExecutorError"

const orProblem = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, ExecutorError> | Unavailable | Internal, R> =>
  Effect.catch(
    effect,
    (e): Effect.Effect<never, Exclude<E, ExecutorError> | Unavailable | Internal> => (isExecutorError(e) ? engineProblem(e) : Effect.fail(e as Exclude<E, ExecutorError>))
  )

const gold = (plan: Plan): ReadonlyMap<string, PlanNode> => new Map([...plan.nodes.values()].filter((n) => n.layer === "gold").map((n) => [n.name, n]))

export const tablesOf = (plan: Plan, pipeline: string): ReadonlyArray<TableId> => plan.order.filter((id) => plan.nodes.get(id)!.pipeline === pipeline)

const scheduleView = (info: ScheduleInfo | undefined) =>
  info === undefined
    ? null
    : {
        cron: info.cron,
        timezone: info.timezone,
        catch_up: info.catchUp,
        next_run: info.nextRun,
        recent: info.recent.map((e) => ({
          at: e.at,
          scheduled_for: e.scheduledFor,
          trigger: e.trigger,
          outcome: e.outcome,
          batch_id: e.batchId ?? null,
          reason: e.reason ?? null
        }))
      }

const activeView = (run: ActiveRun | undefined) =>
  run === undefined ? null : { batch_id: run.batchId, state: run.state, trigger: run.trigger, submitted_at: run.submittedAt, started_at: run.startedAt ?? null }

const runView = (run: RunRecord) => ({ ...run })
const pendingView = (run: ActiveRun, env: string, engine: string) => ({
  batch_id: run.batchId,
  pipelines: [run.pipeline],
  env,
  engine,
  started_at: run.startedAt ?? null,
  finished_at: null,
  status: run.state,
  records_in: 0,
  records_out: 0,
  duration_seconds: 0,
  errors: 0,
  success_rate: null,
  throughput: 0,
  unchanged_tables: []
})

const wantsPrometheus = (accept: string | undefined) => {
  if (accept === undefined) return false
  const a = accept.toLowerCase()
  return (a.includes("text/plain") || a.includes("application/openmetrics-text")) && !a.includes("application/json")
}

/** A request's query string as a record; repeated keys give arrays. */
const rawQuery = (url: string): Record<string, string | ReadonlyArray<string>> => {
  const params = new URL(url, "http://localhost").searchParams
  // No prototype: a parameter named __proto__ is a key like any other (and an unknown column).
  const out: Record<string, string | Array<string>> = Object.create(null)
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key)
    out[key] = all.length === 1 ? all[0]! : all
  }
  return out
}

/**
 * The served gold tables and their data versions, kept until a run finishes: the server holds the
 * warehouse lock, so only its own runs change them.
 */
export interface GoldCache {
  readonly get: Effect.Effect<{ readonly tables: ReadonlyArray<Gold.CatalogTable>; readonly versions: ReadonlyMap<string, string> }, ExecutorError, Executor | MetadataStore>
  readonly invalidate: Effect.Effect<void>
}

export const makeGoldCache = (plan: Plan): GoldCache => {
  const goldNodes = gold(plan)
  let cached: { readonly tables: ReadonlyArray<Gold.CatalogTable>; readonly versions: ReadonlyMap<string, string> } | undefined
  let generation = 0
  const load = Effect.gen(function* () {
    const started = generation
    const store = yield* MetadataStore
    const tables = (yield* Gold.catalog).filter((t) => goldNodes.has(t.name))
    const states = yield* store.tableStates
    const value = { tables, versions: new Map([...states].map(([id, state]) => [id, state.dataVersion])) }
    // A run that finished while this was read makes it stale: keep it for this request only.
    if (generation === started) cached = value
    return value
  })
  return {
    get: Effect.suspend(() => (cached === undefined ? load : Effect.succeed(cached))),
    invalidate: Effect.sync(() => {
      generation++
      cached = undefined
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Handlers

/** Every group of the Api, implemented. */
export const layer = (options: HandlersOptions, cache: GoldCache) => {
  const { plan, api: config } = options
  const goldNodes = gold(plan)
  const pipelineNames = new Set(plan.pipelines.map((p) => p.pipeline))
  const fileOf = new Map<string, string>()
  for (const node of plan.nodes.values()) if (!fileOf.has(node.pipeline)) fileOf.set(node.pipeline, node.file)

  /** Gold tables that the plan declares and the warehouse has. */
  const servedTables = Effect.map(cache.get, (c) => c.tables)

  const System = HttpApiBuilder.group(Api, "system", (handlers) =>
    Effect.gen(function* () {
      const executor = yield* Executor
      const history = yield* RunHistory
      /**
       * One part's check. /health needs no credentials, so what failed is named in general terms
       * only: the engine's message (paths, file names) goes to the server log.
       */
      const check = (part: string, effect: Effect.Effect<unknown, unknown>) =>
        Effect.gen(function* () {
          const started = yield* Clock.currentTimeMillis
          // Detached and uninterruptible: on timeout the statement finishes on its own (see `steady`).
          const fiber = yield* Effect.forkDetach(Effect.uninterruptible(Effect.exit(effect)))
          const awaited = yield* Fiber.join(fiber).pipe(Effect.timeoutOption("5 seconds"))
          const duration_ms = (yield* Clock.currentTimeMillis) - started
          if (Option.isNone(awaited)) {
            yield* Effect.logError(`api: health check of the ${part} had no answer within 5 s`)
            return { status: "failed", detail: "no answer within 5 s", duration_ms } satisfies HealthCheck
          }
          const exit = awaited.value
          if (Exit.isSuccess(exit)) return { status: "ok", duration_ms } satisfies HealthCheck
          yield* Effect.logError(`api: health check of the ${part} failed`, exit.cause)
          const error = Cause.findErrorOption(exit.cause)
          const transient = Option.isSome(error) && isExecutorError(error.value) && (error.value.isRetryable || error.value.reason._tag === "CircuitOpen")
          const detail = transient ? "the engine is busy or unreachable; see the server log" : "could not be read; see the server log"
          return { status: "failed", detail, duration_ms } satisfies HealthCheck
        })
      return handlers.handle("health", () =>
        Effect.gen(function* () {
          const [executorCheck, metadataCheck] = yield* Effect.all([check("executor", executor.healthCheck), check("metadata store", history.runs({ limit: 1 }))], {
            concurrency: 2
          })
          const checks = { executor: executorCheck, metadata: metadataCheck }
          const failed = Object.entries(checks).filter(([, c]) => c.status === "failed")
          if (failed.length > 0) return yield* new Unhealthy({ checks, detail: failed.map(([name, c]) => `${name} failed: ${c.detail}`).join("; ") })
          return { status: "ok" as const, checks }
        }).pipe(steady)
      )
    })
  )

  const Metrics = HttpApiBuilder.group(Api, "metrics", (handlers) =>
    Effect.gen(function* () {
      const history = yield* RunHistory
      const prometheus = Effect.map(Metric.snapshot, (s) => Prometheus.render(s))
      return handlers
        .handle("metrics", ({ request }) =>
          Effect.gen(function* () {
            if (wantsPrometheus(request.headers["accept"])) {
              return HttpServerResponse.text(yield* prometheus, { contentType: Prometheus.contentType })
            }
            const latest = yield* history.latest
            const totals = new Map((yield* history.totals).map((t) => [t.pipeline, t]))
            const names = [...new Set([...pipelineNames, ...latest.keys()])].sort()
            return {
              pipelines: names.map((pipeline) => {
                const t = totals.get(pipeline)
                return { pipeline, latest_run: latest.get(pipeline) ?? null, totals: t === undefined ? null : (({ pipeline: _, ...rest }) => rest)(t) }
              }),
              prometheus: "/metrics/prometheus"
            }
          }).pipe(orProblem, steady)
        )
        .handle("prometheus", () => steady(prometheus))
    })
  )

  const GoldLive = HttpApiBuilder.group(Api, "gold", (handlers) =>
    Effect.gen(function* () {
      const history = yield* RunHistory
      return handlers
        .handle("tables", () =>
          Effect.gen(function* () {
            const tables = yield* servedTables
            const refreshed = yield* history.lastRefreshed(tables.map((t) => `gold.${t.name}`))
            const counts = yield* Effect.forEach(tables, (t) => Gold.rowCount(t.name), { concurrency: 4 })
            return {
              tables: tables.map((t, i) => {
                const node = goldNodes.get(t.name)!
                const description = node._tag === "Model" ? node.table.description : node.table.description
                return {
                  name: t.name,
                  id: `gold.${t.name}`,
                  pipeline: node.pipeline,
                  description: description ?? null,
                  mode: node.mode,
                  columns: t.columns,
                  row_count: counts[i]!,
                  last_refresh: refreshed.get(`gold.${t.name}`) ?? null
                }
              })
            }
          }).pipe(orProblem, steady)
        )
        .handle("rows", ({ params, query, request }) =>
          Effect.gen(function* () {
            const table = (yield* servedTables).find((t) => t.name === params.table)
            if (table === undefined) {
              const declared = goldNodes.has(params.table)
              return yield* new TableNotFound({
                table: params.table.slice(0, 200),
                detail: declared
                  ? `gold.${params.table} has not been built yet; run its pipeline`
                  : `no gold table ${JSON.stringify(params.table.slice(0, 200))}; GET /gold lists them`
              })
            }
            const invalid = (errors: ReadonlyArray<{ readonly parameter: string; readonly message: string }>) =>
              new InvalidRequest({
                detail: errors
                  .map((e) => `${e.parameter}: ${e.message}`)
                  .join("; ")
                  .slice(0, 2000),
                errors
              })
            const tooMany = (limit: number) => limit > config.maxLimit
            const limitIssue = { parameter: "limit", message: `at most ${config.maxLimit} rows per page (the server's api.max_limit); follow next_cursor for more` }
            if (query.cursor !== undefined && query.offset !== undefined) {
              return yield* invalid([{ parameter: "cursor", message: "give either cursor or offset, not both" }])
            }
            if (query.limit === 0) return yield* invalid([{ parameter: "limit", message: "expected at least 1" }])
            if (query.limit !== undefined && tooMany(query.limit)) return yield* invalid([limitIssue])
            const version = (yield* cache.get).versions.get(`gold.${table.name}`) ?? ""
            /** Filters and order, checked against the table's columns and types. */
            const parse = (filterQuery: Readonly<Record<string, string | ReadonlyArray<string>>>, orderBy: string) => {
              const filters = Gold.parseFilters(table, filterQuery)
              if (Result.isFailure(filters)) return Result.fail(filters.failure)
              const order = Gold.parseOrderBy(table, orderBy)
              if (Result.isFailure(order)) return Result.fail(order.failure)
              return Result.succeed({ filters: filters.success, orderBy: order.success })
            }
            const requestQuery = rawQuery(request.url)
            const own = parse(requestQuery, query.order_by ?? "")
            if (Result.isFailure(own)) return yield* invalid(own.failure)
            const asked = Gold.listingOf(requestQuery, query.order_by)
            let listing = asked
            let parsed = own.success
            let offset = query.offset ?? 0
            let limit = query.limit
            if (query.cursor !== undefined) {
              const cursor = Gold.decodeCursor(query.cursor)
              if (cursor === "old") {
                return yield* new CursorExpired({ table: table.name, detail: "this cursor comes from an earlier version of the server; start again without cursor" })
              }
              if (cursor === undefined) return yield* invalid([{ parameter: "cursor", message: "not a cursor this server issued; start again without cursor" }])
              if (cursor.table !== table.name) {
                return yield* invalid([{ parameter: "cursor", message: `the cursor pages through gold.${cursor.table.slice(0, 200)}, not gold.${table.name}` }])
              }
              if (cursor.version !== version)
                return yield* new CursorExpired({ table: table.name, detail: `gold.${table.name} was refreshed since this cursor was issued; start again without cursor` })
              const theirs: Gold.Listing = { filters: cursor.filters, orderBy: cursor.order_by }
              // Checked again like a request's: a cursor is only base64url JSON.
              const carried = parse(Gold.listingQuery(theirs), theirs.orderBy)
              if (Result.isFailure(carried)) return yield* invalid([{ parameter: "cursor", message: "not a cursor this server issued; start again without cursor" }])
              // The cursor carries its listing; a request that names filters or an order must name the same.
              const named = asked.filters.length > 0 || asked.orderBy !== ""
              if (named && Gold.canonicalQuery(own.success) !== Gold.canonicalQuery(carried.success)) {
                return yield* invalid([
                  {
                    parameter: "cursor",
                    message: `the cursor continues the listing ${Gold.describeListing(theirs)}, and this request asks for ${Gold.describeListing(asked)}; send the cursor alone (it carries its filters and order_by), or start again without it`
                  }
                ])
              }
              listing = theirs
              parsed = carried.success
              offset = cursor.offset
              if (limit === undefined) {
                if (tooMany(cursor.limit)) return yield* invalid([limitIssue])
                limit = cursor.limit
              }
            }
            const size = limit ?? config.defaultLimit
            const page = yield* Gold.readPage({ table, filters: parsed.filters, orderBy: parsed.orderBy, limit: size, offset })
            return {
              table: table.name,
              columns: table.columns,
              // JSON values by construction (the engine's JSON conversion, shaped); the success schema checks them again.
              rows: Values.shapeRows(table.columns, page.rows) as ReadonlyArray<Readonly<Record<string, Schema.Json>>>,
              limit: size,
              offset,
              next_cursor: page.more
                ? Gold.encodeCursor({ table: table.name, offset: offset + size, limit: size, filters: listing.filters, order_by: listing.orderBy, version })
                : null
            }
          }).pipe(orProblem, steady)
        )
    })
  )

  const Pipelines = HttpApiBuilder.group(Api, "pipelines", (handlers) =>
    Effect.gen(function* () {
      const history = yield* RunHistory
      const coordinator = yield* RunCoordinator
      const scheduler = yield* Scheduler
      const summary = (name: string, latest: ReadonlyMap<string, PipelineRunMetrics>, active: ReadonlyArray<ActiveRun>) =>
        Effect.gen(function* () {
          const pipeline = plan.pipelines.find((p) => p.pipeline === name)!
          return {
            name,
            description: pipeline.description ?? null,
            file: fileOf.get(name) ?? "",
            tables: [...tablesOf(plan, name)],
            schedule: scheduleView(yield* scheduler.info(name)),
            active_run: activeView(active.find((r) => r.pipeline === name)),
            last_run: latest.get(name) ?? null
          }
        })
      return handlers
        .handle("list", () =>
          Effect.gen(function* () {
            const latest = yield* history.latest
            const active = yield* coordinator.active
            return { pipelines: yield* Effect.forEach(plan.pipelines, (p) => summary(p.pipeline, latest, active)) }
          }).pipe(orProblem, steady)
        )
        .handle("get", ({ params }) =>
          Effect.gen(function* () {
            if (!pipelineNames.has(params.name)) {
              return yield* new PipelineNotFound({
                pipeline: params.name.slice(0, 200),
                detail: `no pipeline ${JSON.stringify(params.name.slice(0, 200))}; GET /pipelines lists them`
              })
            }
            const base = yield* summary(params.name, yield* history.latest, yield* coordinator.active)
            const ids = tablesOf(plan, params.name)
            const nodes = ids.map((id) => plan.nodes.get(id)!)
            return {
              ...base,
              dag: {
                nodes: nodes.map((n) => ({ id: n.id, layer: n.layer, mode: n.mode, depends_on: [...n.dependsOn], location: n.location })),
                edges: nodes.flatMap((n) => n.dependsOn.map((from) => ({ from, to: n.id })))
              }
            }
          }).pipe(orProblem, steady)
        )
        .handle("trigger", ({ params, payload }) =>
          Effect.gen(function* () {
            if (!pipelineNames.has(params.name)) {
              return yield* new PipelineNotFound({
                pipeline: params.name.slice(0, 200),
                detail: `no pipeline ${JSON.stringify(params.name.slice(0, 200))}; GET /pipelines lists them`
              })
            }
            const parent = yield* Effect.option(Effect.currentParentSpan)
            const caller = yield* Caller
            const run = yield* coordinator
              .submit({
                pipeline: params.name,
                trigger: "api",
                fullRefresh: payload?.full_refresh === true,
                parent: Option.getOrUndefined(parent)
              })
              .pipe(
                Effect.catchTags({
                  RunInProgress: (e) => Effect.fail(new RunInProgress({ pipeline: e.pipeline, batch_id: e.batchId, state: e.state, detail: e.message })),
                  ShuttingDown: (e) => Effect.fail(new Unavailable({ detail: e.message }))
                })
              )
            yield* Effect.logInfo(`api: ${caller.subject} started run ${run.batchId} of ${params.name}`)
            return { batch_id: run.batchId, pipeline: run.pipeline, state: run.state, trigger: "api" as const, submitted_at: run.submittedAt, run: `/runs/${run.batchId}` }
          })
        )
    })
  )

  const Runs = HttpApiBuilder.group(Api, "runs", (handlers) =>
    Effect.gen(function* () {
      const history = yield* RunHistory
      const store = yield* MetadataStore
      const coordinator = yield* RunCoordinator
      const executor = yield* Executor
      return handlers
        .handle("list", ({ query }) =>
          Effect.gen(function* () {
            if (query.pipeline !== undefined && !namePattern.test(query.pipeline)) {
              return yield* new InvalidRequest({
                detail: "pipeline: not a pipeline name",
                errors: [{ parameter: "pipeline", message: "expected a pipeline name (letters, digits and _)" }]
              })
            }
            if (query.before !== undefined && !/^\d{8}T\d{9}Z-[0-9a-f]{8}$/.test(query.before)) {
              return yield* new InvalidRequest({ detail: "before: not a batch id", errors: [{ parameter: "before", message: "expected next_before of a previous page" }] })
            }
            if (query.limit === 0) return yield* new InvalidRequest({ detail: "limit: expected at least 1", errors: [{ parameter: "limit", message: "expected at least 1" }] })
            if (query.limit !== undefined && query.limit > maxRunsLimit) {
              const message = `at most ${maxRunsLimit} runs per page; follow next_before for more`
              return yield* new InvalidRequest({ detail: `limit: ${message}`, errors: [{ parameter: "limit", message }] })
            }
            const limit = query.limit ?? 50
            const status = query.status
            const stored = status === "queued" ? [] : yield* history.runs({ pipeline: query.pipeline, status, before: query.before, limit })
            const storedIds = new Set(stored.map((r) => r.batch_id))
            const pending =
              query.before !== undefined
                ? []
                : (yield* coordinator.active).filter(
                    (r) => !storedIds.has(r.batchId) && (query.pipeline === undefined || r.pipeline === query.pipeline) && (status === undefined || status === r.state)
                  )
            return {
              runs: [...pending.map((r) => pendingView(r, options.env, executor.engine)), ...stored.map(runView)],
              next_before: stored.length === limit ? stored[stored.length - 1]!.batch_id : null
            }
          }).pipe(orProblem, steady)
        )
        .handle("get", ({ params }) =>
          Effect.gen(function* () {
            const run = yield* history.run(params.batch_id)
            if (run === undefined) {
              const pending = (yield* coordinator.active).find((r) => r.batchId === params.batch_id)
              if (pending !== undefined) return { run: pendingView(pending, options.env, executor.engine), tables: [], expectations: [] }
              return yield* new RunNotFound({ batch_id: params.batch_id, detail: `no run ${JSON.stringify(params.batch_id)}; GET /runs lists them` })
            }
            const tables = yield* store.runTables(run.batch_id)
            return {
              run: runView(run),
              tables,
              expectations: tables.flatMap((t) => t.expectations.map((e) => ({ table: t.table, ...e })))
            }
          }).pipe(orProblem, steady)
        )
    })
  )

  return Layer.mergeAll(System, Metrics, GoldLive, Pipelines, Runs)
}
