/**
 * The interpreter of a plan: runs the selected tables over the DAG, each as soon as its inputs
 * are ready (bounded concurrency), retries transient failures, skips the dependents of a failed
 * table, and records the run. The only place that decides what runs when.
 */
import { type Cause, Clock, Deferred, Duration, Effect, Exit, Random, Schedule, Semaphore } from "effect"
import { Executor } from "../executor/Executor.ts"
import { MetadataStore, type RunRecord, type TableRecord } from "../metadata/MetadataStore.ts"
import type { Plan, PlanNode, TableId } from "../plan/Plan.ts"
import type { Retry } from "../spec/Pipeline.ts"
import { layers } from "../spec/Pipeline.ts"
import { runTable, type TableCounts } from "./runTable.ts"

export interface ApplyOptions {
  readonly projectDir: string
  readonly env: string
  readonly selected: ReadonlySet<TableId>
  readonly concurrency: number
  /** Called as each table finishes, for progress output. */
  readonly onTable?: ((record: TableRecord) => Effect.Effect<void>) | undefined
}

export interface RunReport {
  readonly run: RunRecord
  readonly tables: ReadonlyArray<TableRecord>
}

/** Sortable and unique even for runs started in the same millisecond: UTC time plus randomness. */
export const makeBatchId = Effect.gen(function*() {
  const now = new Date(yield* Clock.currentTimeMillis)
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(".", "")
  const suffix = yield* Random.nextIntBetween(0, 0xffffffff)
  return `${stamp}-${suffix.toString(16).padStart(8, "0")}`
})

const toDuration = (text: string | undefined, fallback: Duration.Input): Duration.Duration => {
  if (text === undefined) return Duration.fromInputUnsafe(fallback)
  const m = /^(\d+)\s*([a-z]+)$/.exec(text.trim())
  if (m === null) return Duration.fromInputUnsafe(fallback)
  const unit = m[2]!
  const ms = unit.startsWith("ms") || unit.startsWith("milli") ? 1 : unit === "s" || unit.startsWith("sec") ? 1000
    : unit === "m" || unit.startsWith("min") ? 60_000 : unit === "h" || unit.startsWith("hour") ? 3_600_000 : 86_400_000
  return Duration.millis(Number(m[1]) * ms)
}

/** Retries only errors that say they are retryable, with the pipeline's backoff. */
export const retryPolicy = (retry: Retry | undefined) => {
  const attempts = retry?.attempts ?? 3
  const initial = toDuration(retry?.initial, "1 second")
  const max = toDuration(retry?.max, "30 seconds")
  const base = retry?.backoff === "fixed" ? Schedule.spaced(initial) : Schedule.exponential(initial)
  return Schedule.min([base, Schedule.spaced(max)]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: attempts - 1 }),
    Schedule.setInputType<unknown>(),
    Schedule.while(({ input }) => typeof input === "object" && input !== null && (input as { isRetryable?: unknown }).isRetryable === true)
  )
}

const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const reason = cause.reasons[0]
  const error = reason === undefined ? "unknown failure" : reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : "interrupted"
  return error instanceof Error ? error.message : String(error)
}

const emptyCounts: TableCounts = {
  rowsIn: 0, rowsOut: 0, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, droppedByReason: {}, expectations: [], accountingOk: true, note: null
}

const record = (node: PlanNode, status: TableRecord["status"], counts: TableCounts, seconds: number, error: string | null): TableRecord => ({
  table: node.id, pipeline: node.pipeline, layer: node.layer, mode: node.mode, status,
  reason: counts.note, error,
  rows_in: counts.rowsIn, rows_out: counts.rowsOut, quarantined: counts.quarantined, dropped: counts.dropped,
  duplicates: counts.duplicates, rejected: counts.rejected, dropped_by_reason: counts.droppedByReason,
  expectations: counts.expectations, duration_seconds: seconds, accounting_ok: counts.accountingOk
})

export const apply = Effect.fn("medallion.apply")(function*(plan: Plan, options: ApplyOptions) {
  const executor = yield* Executor
  const store = yield* MetadataStore
  const batchId = yield* makeBatchId
  const startedMillis = yield* Clock.currentTimeMillis
  const startedAt = new Date(startedMillis).toISOString()
  const order = plan.order.filter((id) => options.selected.has(id))
  const pipelines = [...new Set(order.map((id) => plan.nodes.get(id)!.pipeline))]
  yield* Effect.annotateCurrentSpan({ "medallion.batch_id": batchId, "medallion.env": options.env, "medallion.engine": executor.engine })
  const run: RunRecord = {
    batch_id: batchId, pipelines, env: options.env, engine: executor.engine, started_at: startedAt, finished_at: null,
    status: "running", records_in: 0, records_out: 0, duration_seconds: 0, errors: 0, success_rate: 0, throughput: 0
  }
  yield* store.startRun(run)
  yield* executor.withSession((s) => Effect.forEach(layers, (l) => s.execute(executor.dialect.createSchema(l)), { discard: true }))

  const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency))
  const done = new Map<TableId, Deferred.Deferred<TableRecord["status"]>>()
  for (const id of order) done.set(id, yield* Deferred.make<TableRecord["status"]>())
  const records = new Map<TableId, TableRecord>()
  const ctx = { batchId, startedAt, projectDir: options.projectDir }

  const runNode = (id: TableId) =>
    Effect.gen(function*() {
      const node = plan.nodes.get(id)!
      const upstream = yield* Effect.forEach(node.dependsOn.filter((dep) => done.has(dep)), (dep) =>
        Deferred.await(done.get(dep)!).pipe(Effect.map((status) => [dep, status] as const)))
      const blocked = upstream.find(([, status]) => status !== "succeeded")
      let result: TableRecord
      if (blocked !== undefined) {
        result = record(node, "skipped", { ...emptyCounts, note: `upstream ${blocked[0]} ${blocked[1]}` }, 0, null)
      } else {
        const started = yield* Clock.currentTimeMillis
        const exit = yield* semaphore.withPermits(1)(
          runTable(node, ctx).pipe(
            Effect.retry(retryPolicy(node.retry)),
            Effect.withSpan("medallion.table", { attributes: { "medallion.table": id, "medallion.mode": node.mode, "medallion.layer": node.layer } })
          )
        ).pipe(Effect.exit)
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        result = Exit.isSuccess(exit)
          ? record(node, "succeeded", exit.value, seconds, null)
          : record(node, "failed", emptyCounts, seconds, `${describeFailure(exit.cause)}\n(${node.id} is declared at ${node.location})`)
      }
      records.set(id, result)
      if (options.onTable) yield* options.onTable(result)
      yield* Deferred.succeed(done.get(id)!, result.status)
    })

  const finish = (status: RunRecord["status"]) =>
    Effect.gen(function*() {
      const tables = order.flatMap((id) => records.get(id) ?? [])
      const seconds = ((yield* Clock.currentTimeMillis) - startedMillis) / 1000
      const recordsIn = tables.reduce((a, t) => a + t.rows_in, 0)
      const recordsOut = tables.reduce((a, t) => a + t.rows_out, 0)
      const finished: RunRecord = {
        ...run,
        status,
        finished_at: new Date(startedMillis + seconds * 1000).toISOString(),
        records_in: recordsIn,
        records_out: recordsOut,
        duration_seconds: seconds,
        errors: tables.filter((t) => t.status === "failed").length,
        success_rate: recordsIn === 0 ? 1 : recordsOut / recordsIn,
        throughput: seconds === 0 ? 0 : recordsIn / seconds
      }
      yield* store.finishRun(finished, tables)
      return { run: finished, tables } satisfies RunReport
    })

  yield* Effect.forEach(order, runNode, { concurrency: "unbounded", discard: true }).pipe(
    Effect.onInterrupt(() => Effect.ignore(finish("cancelled")))
  )
  const failed = [...records.values()].some((t) => t.status !== "succeeded")
  return yield* finish(failed ? "failed" : "succeeded")
})
