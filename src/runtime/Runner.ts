/**
 * The interpreter of a plan: runs the selected tables over the DAG, each as soon as its inputs
 * are ready (bounded concurrency), retries transient failures, skips the dependents of a failed
 * table, and records the run. The only place that decides what runs when.
 */
import { Cause, Clock, Deferred, Duration, Effect, Exit, Fiber, Random, Semaphore } from "effect"
import { CurrentTable, Executor, statementMarker } from "../executor/Executor.ts"
import { MetadataStore, type RunRecord, successRate, type TableRecord } from "../metadata/MetadataStore.ts"
import { retryBookkeeping, withRetries, withTimeout } from "../executor/policy.ts"
import { actionName, dataVersion } from "../plan/changes.ts"
import type { Plan, PlanNode, TableId } from "../plan/Plan.ts"
import * as Secrets from "../secrets/Secrets.ts"
import { layers } from "../spec/Pipeline.ts"
import * as Metrics from "./metrics.ts"
import { StepError } from "./errors.ts"
import { shownInOutput } from "./logs.ts"
import { nothingNew, runTable, type TableCounts } from "./runTable.ts"
import { assess, checksummed, loadSituation, type Prepared, prepareAll, stateAfter } from "./situation.ts"

export interface ApplyOptions {
  readonly projectDir: string
  readonly env: string
  readonly selected: ReadonlySet<TableId>
  readonly concurrency: number
  /** Tables to rebuild from all their input, whatever changed. */
  readonly fullRefresh: ReadonlySet<TableId>
  /** The caller shows each failed table itself (the CLI's apply): its log record says so (shownInOutput). */
  readonly failuresInOutput?: boolean | undefined
  /** Called as each table starts (gets a concurrency slot) and finishes, for progress output. */
  readonly onTableStart?: ((table: TableId) => Effect.Effect<void>) | undefined
  readonly onTable?: ((record: TableRecord) => Effect.Effect<void>) | undefined
  /** The run's batch id, when the caller made it in advance (see makeBatchId), e.g. to answer before the run starts. */
  readonly batchId?: string | undefined
  /**
   * The selected tables prepared (situation.prepareAll) by the caller, which could start that
   * while the engine was still opening; otherwise the run prepares them beside its bookkeeping.
   */
  readonly prepared?: Effect.Effect<ReadonlyMap<TableId, Prepared>> | undefined
}

export interface RunReport {
  readonly run: RunRecord
  readonly tables: ReadonlyArray<TableRecord>
}

/** Sortable and unique even for runs started in the same millisecond: UTC time plus randomness. */
export const makeBatchId = Effect.gen(function* () {
  const now = new Date(yield* Clock.currentTimeMillis)
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(".", "")
  const suffix = yield* Random.nextIntBetween(0, 0xffffffff)
  return `${stamp}-${suffix.toString(16).padStart(8, "0")}`
})

const describeError = (error: unknown): string => (error instanceof Error ? error.message.split("\n")[0]! : String(error))

const failureOf = (cause: Cause.Cause<unknown>): unknown => {
  const reason = cause.reasons[0]
  return reason === undefined ? "unknown failure" : reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : "interrupted"
}

/** A failure's message, as the run's history keeps it: without secrets (Secrets.ts), since the history is shown later. */
const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = failureOf(cause)
  return Secrets.scrub(error instanceof Error ? error.message : String(error))
}

/**
 * A failed table's error as recorded: what went wrong, where the table is declared (unless the
 * error names the part of it already), then the statement.
 */
const failureText = (node: PlanNode, cause: Cause.Cause<unknown>) => {
  const text = describeFailure(cause)
  const at = text.indexOf(statementMarker)
  const [human, statement] = at === -1 ? [text, ""] : [text.slice(0, at), text.slice(at)]
  const located = failureOf(cause) instanceof StepError ? "" : `\n(${node.id} is declared at ${node.location})`
  return `${human}${located}${statement}`
}

const record = (node: PlanNode, status: TableRecord["status"], counts: TableCounts, seconds: number, error: string | null, attempts: number): TableRecord => ({
  table: node.id,
  pipeline: node.pipeline,
  layer: node.layer,
  mode: node.mode,
  status,
  reason: counts.notes.length > 0 ? counts.notes.join("; ") : null,
  error,
  rows_in: counts.rowsIn,
  rows_out: counts.rowsOut,
  quarantined: counts.quarantined,
  dropped: counts.dropped,
  duplicates: counts.duplicates,
  rejected: counts.rejected,
  dropped_by_reason: counts.droppedByReason,
  expectations: counts.expectations,
  duration_seconds: seconds,
  accounting_ok: counts.accountingOk,
  attempts
})

/** The attributes a table's span gets once it ran. */
const tableAttributes = (status: TableRecord["status"], counts: TableCounts, attempts: number): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    "medallion.status": status,
    "medallion.rows_in": counts.rowsIn,
    "medallion.rows_out": counts.rowsOut,
    "medallion.quarantined": counts.quarantined,
    "medallion.dropped": counts.dropped,
    "medallion.duplicates": counts.duplicates,
    "medallion.rejected": counts.rejected,
    "medallion.attempts": attempts
  }
  for (const e of counts.expectations) {
    attributes[`medallion.expectation.${e.expectation}.failed`] = e.failed
    attributes[`medallion.expectation.${e.expectation}.passed`] = e.passed
  }
  return attributes
}

export const apply = Effect.fn("medallion.run")(function* (plan: Plan, options: ApplyOptions) {
  const executor = yield* Executor
  const store = yield* MetadataStore
  const batchId = options.batchId ?? (yield* makeBatchId)
  const startedMillis = yield* Clock.currentTimeMillis
  const startedAt = new Date(startedMillis).toISOString()
  const order = plan.order.filter((id) => options.selected.has(id))
  const pipelines = [...new Set(order.map((id) => plan.nodes.get(id)!.pipeline))]
  yield* Effect.annotateCurrentSpan({
    "medallion.batch_id": batchId,
    "medallion.env": options.env,
    "medallion.engine": executor.engine,
    "medallion.pipelines": pipelines,
    "medallion.tables": order
  })
  const run: RunRecord = {
    batch_id: batchId,
    pipelines,
    env: options.env,
    engine: executor.engine,
    started_at: startedAt,
    finished_at: null,
    status: "running",
    records_in: 0,
    records_out: 0,
    duration_seconds: 0,
    errors: 0,
    success_rate: null,
    throughput: 0,
    unchanged_tables: []
  }
  const bookkeeping = retryBookkeeping
  const ensureSchemas = bookkeeping(
    executor.withSession((s) =>
      Effect.gen(function* () {
        const d = executor.dialect
        const schemas = new Set((yield* s.query(d.listSchemas)).map((r) => String(r["schema_name"])))
        yield* Effect.forEach(
          layers.filter((l) => !schemas.has(d.schemaOf(l))),
          (l) => s.execute(d.createSchema(l)),
          { discard: true }
        )
      })
    )
  )
  // Independent, so on separate sessions at once: a no-op run is mostly these round trips, and the
  // tables' definitions are compiled and their files listed meanwhile (unless the caller did that
  // while the engine opened).
  // Only one process can open the warehouse for writing, so runs still "running" belong to a dead one.
  const [, , situation, preparedFor] = yield* Effect.all(
    [store.closeAbandonedRuns, ensureSchemas, bookkeeping(loadSituation), options.prepared ?? prepareAll(plan, order, options.projectDir, executor.dialect)],
    { concurrency: "unbounded" }
  )
  const versions = new Map<TableId, string>(Array.from(situation.states, ([id, state]) => [id as TableId, state.dataVersion]))

  // The run's row goes in when its first table starts changing the warehouse: a run that dies after
  // that is then found "running" and marked crashed by the next one. A run that finds every table
  // unchanged has nothing to mark, and is recorded once, when it finishes.
  // Uninterruptible: a cancelled run must know whether its row went in, or it would insert a second.
  let startRecorded = false
  const start = yield* Effect.cached(
    Effect.uninterruptible(
      Effect.andThen(
        store.startRun(run),
        Effect.sync(() => (startRecorded = true))
      )
    )
  )
  const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency))
  const done = new Map<TableId, Deferred.Deferred<TableRecord["status"]>>()
  for (const id of order) done.set(id, yield* Deferred.make<TableRecord["status"]>())
  const records = new Map<TableId, TableRecord>()
  // Tables recorded in the transaction that published them: a run killed after that still lists them.
  const published = new Map<TableId, TableRecord>()
  const ctx = { batchId, startedAt, projectDir: options.projectDir }

  /** Assess and run one table; its record says what happened. */
  const execute = (node: PlanNode) =>
    Effect.gen(function* () {
      let attempts = 0
      // The table's own time: from when it gets a concurrency slot, not while it waits for one.
      let started: number | undefined
      const seconds = Effect.map(Clock.currentTimeMillis, (now) => (now - (started ?? now)) / 1000)
      const attempt = Effect.suspend(() => {
        attempts++
        return Effect.scoped(
          Effect.gen(function* () {
            // A retry looks at the files again.
            const assessment = yield* assess(
              plan,
              node,
              situation,
              versions,
              { projectDir: options.projectDir, fullRefresh: options.fullRefresh.has(node.id) },
              attempts === 1 ? preparedFor.get(node.id) : undefined
            )
            const reasons = assessment.action.reasons
            if (assessment.action._tag === "Skip") return { status: "unchanged" as const, counts: nothingNew(reasons) }
            yield* start
            const full = assessment.action._tag !== "Incremental"
            const previous = versions.get(node.id)
            const next = dataVersion(full || previous === undefined ? batchId : previous.split("/")[0]!, batchId)
            // Checksums the decision did not need are computed while the table reads its files
            // (in this attempt's scope: a failed attempt stops hashing).
            const hashing = yield* Effect.forkScoped(checksummed(node, assessment))
            const complete = Fiber.join(hashing)
            const noted = (counts: TableCounts): TableCounts => ({ ...counts, notes: [`${actionName(assessment.action)}: ${reasons.join("; ")}`, ...counts.notes] })
            let recorded: TableRecord | undefined
            const counts = yield* runTable(
              {
                node,
                full,
                files: assessment.files,
                checksummed: Effect.map(complete, (a) => a.files),
                onPublish: (session, counts) =>
                  Effect.gen(function* () {
                    yield* store.saveState(session, node.id, stateAfter(yield* complete, next))
                    recorded = record(node, "succeeded", noted(counts), yield* seconds, null, attempts)
                    yield* store.recordTable(session, batchId, recorded)
                  })
              },
              ctx
            )
            // Committed: the run's record of the table is in the warehouse.
            if (recorded !== undefined) published.set(node.id, recorded)
            if (counts.changed) versions.set(node.id, next)
            else {
              const a = yield* complete
              yield* bookkeeping(executor.withSession((s) => store.saveState(s, node.id, stateAfter(a, versions.get(node.id) ?? next))))
            }
            return { status: "succeeded" as const, counts: noted(counts) }
          })
        )
      })
      const exit = yield* semaphore
        .withPermits(1)(
          Effect.andThen(
            Effect.map(Clock.currentTimeMillis, (now) => (started = now)),
            Effect.andThen(options.onTableStart?.(node.id) ?? Effect.void, attempt)
          ).pipe(
            withTimeout(node.timeout, node.id),
            withRetries(node.retry, (attempt, error, delay) =>
              Effect.logWarning(`${node.id}: attempt ${attempt} failed (${describeError(error)}); retrying in ${Duration.format(delay)}`)
            ),
            // Inside the span, so a failure ends it with status ERROR and the counts land on it.
            Effect.tap(({ counts, status }) =>
              Effect.andThen(
                Effect.annotateCurrentSpan(tableAttributes(status, counts, attempts)),
                Effect.logInfo(`${node.id}: ${status}, ${counts.rowsIn} rows in, ${counts.rowsOut} out, ${counts.quarantined} quarantined, ${counts.dropped} dropped`)
              )
            ),
            Effect.onError((cause) => {
              const status = Cause.hasInterruptsOnly(cause) ? "cancelled" : "failed"
              return Effect.andThen(
                Effect.annotateCurrentSpan({ "medallion.status": status, "medallion.attempts": attempts }),
                status === "failed"
                  ? Effect.logError(`${node.id}: failed after ${attempts} attempt(s): ${describeFailure(cause)}`).pipe(
                      options.failuresInOutput === true ? Effect.annotateLogs(shownInOutput, true) : (log) => log
                    )
                  : Effect.void
              )
            }),
            // Named by the table (silver.orders), so a trace reads as the DAG it ran.
            Effect.withSpan(node.id, { attributes: { "medallion.table": node.id, "medallion.mode": node.mode, "medallion.layer": node.layer } }),
            // The table's statements name it in the executor's activity (progress output).
            Effect.provideService(CurrentTable, node.id)
          )
        )
        .pipe(Effect.exit)
      // A published table is reported as it was recorded.
      return Exit.isSuccess(exit)
        ? (published.get(node.id) ?? record(node, exit.value.status, exit.value.counts, yield* seconds, null, attempts))
        : record(node, "failed", nothingNew([]), yield* seconds, failureText(node, exit.cause), attempts)
    })

  const runNode = (id: TableId) =>
    Effect.gen(function* () {
      const node = plan.nodes.get(id)!
      const upstream = yield* Effect.forEach(
        node.dependsOn.filter((dep) => done.has(dep)),
        (dep) => Deferred.await(done.get(dep)!).pipe(Effect.map((status) => [dep, status] as const))
      )
      const blocked = upstream.find(([, status]) => status === "failed" || status === "skipped")
      const result = blocked !== undefined ? record(node, "skipped", nothingNew([`upstream ${blocked[0]} ${blocked[1]}`]), 0, null, 0) : yield* execute(node)
      records.set(id, result)
      yield* Metrics.recordTable(result)
      if (options.onTable) yield* options.onTable(result)
      yield* Deferred.succeed(done.get(id)!, result.status)
    })

  const finish = (status: RunRecord["status"]) =>
    Effect.gen(function* () {
      // A table interrupted after it published was recorded then; it counts in the run.
      const tables = order.flatMap((id) => records.get(id) ?? published.get(id) ?? [])
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
        success_rate: successRate(recordsIn, recordsOut),
        throughput: seconds === 0 ? 0 : recordsIn / seconds,
        unchanged_tables: tables.filter((t) => t.status === "unchanged").map((t) => t.table)
      }
      yield* store.finishRun(
        finished,
        tables.filter((t) => !published.has(t.table as TableId)),
        startRecorded
      )
      yield* Metrics.recordRun(finished)
      return { run: finished, tables } satisfies RunReport
    })

  yield* Effect.forEach(order, runNode, { concurrency: "unbounded", discard: true }).pipe(Effect.onInterrupt(() => Effect.ignore(finish("cancelled"))))
  const failed = [...records.values()].some((t) => t.status === "failed" || t.status === "skipped")
  return yield* finish(failed ? "failed" : "succeeded")
})
