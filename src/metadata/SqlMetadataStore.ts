/**
 * The metadata store as tables in a `_medallion` schema, written through the Executor, so it lives
 * in the same database as the data and commits in the same transactions as appends. The same
 * statements serve DuckDB and Databricks (Delta tables); only the DDL differs by dialect, and
 * Databricks keeps times as ISO-8601 UTC text (no time-zone conversions on the warehouse).
 */
import { Effect, Layer, Result, Schema, SchemaTransformation } from "effect"
import { Executor, ExecutorError, ExpectedFailure, QueryFailed, type Row, type Session } from "../executor/Executor.ts"
import { retryBookkeeping } from "../executor/policy.ts"
import { type BatchRecord, CommaList, ExpectationResult, HistoryNotWritten, MetadataStore, RunRecord, successRate, TableRecord } from "./MetadataStore.ts"
import type { PendingRun, PendingRuns, PendingRunsError } from "./PendingRuns.ts"

type Dialect = Executor["Service"]["dialect"]

/** Bump when `migrations` or `upgrades` gains a statement. */
const schemaVersion = 5

/** The store's tables, created if missing; `T` names a table of the `_medallion` schema. */
const migrations = (d: Dialect, T: (name: string) => string): ReadonlyArray<string> => {
  const spark = d.name === "spark"
  const text = spark ? "STRING" : "VARCHAR"
  const time = spark ? "STRING" : "TIMESTAMPTZ"
  const using = spark ? " USING DELTA" : ""
  return [
    d.createSchema("_medallion"),
    // No primary key (since version 3): DuckDB writes a table's whole index at every checkpoint, so
    // every run that records itself would close slower as the history grows (25 ms more at 10,000
    // runs, 100 at 50,000: bench/history.ts). Batch ids are unique by construction (makeBatchId).
    `CREATE TABLE IF NOT EXISTS ${T("runs")} (
    batch_id ${text}, pipelines ${text}, env ${text}, engine ${text},
    started_at ${time}, finished_at ${time}, status ${text},
    records_in BIGINT, records_out BIGINT, duration_seconds DOUBLE, errors BIGINT,
    success_rate DOUBLE, throughput DOUBLE, unchanged_tables ${text})${using}`,
    `CREATE TABLE IF NOT EXISTS ${T("run_tables")} (
    batch_id ${text}, table_id ${text}, pipeline ${text}, layer ${text}, mode ${text}, status ${text},
    reason ${text}, error ${text}, rows_in BIGINT, rows_out BIGINT, quarantined BIGINT, dropped BIGINT,
    duplicates BIGINT, rejected BIGINT, dropped_by_reason ${text}, duration_seconds DOUBLE, accounting_ok BOOLEAN${spark ? ", attempts BIGINT" : ""})${using}`,
    `CREATE TABLE IF NOT EXISTS ${T("expectation_results")} (
    batch_id ${text}, table_id ${text}, expectation ${text}, kind ${text}, on_fail ${text}, passed BIGINT, failed BIGINT)${using}`,
    `CREATE TABLE IF NOT EXISTS ${T("batches")} (
    batch_id ${text}, table_id ${text}, source ${text}, layer ${text}, ingestion_time ${time},
    record_count BIGINT, checksum ${text})${using}`,
    `CREATE TABLE IF NOT EXISTS ${T("ingested_files")} (
    table_id ${text}, path ${text}, size BIGINT, modified_at ${time}, checksum ${text}, batch_id ${text})${using}`,
    `CREATE TABLE IF NOT EXISTS ${T("consumed_batches")} (table_id ${text}, input_id ${text}, batch_id ${text})${using}`,
    // No primary key either (since version 5): saveState deletes a table's row before inserting it,
    // and the key's index cost each table's publishing transaction about 2 ms on DuckDB.
    `CREATE TABLE IF NOT EXISTS ${T("table_state")} (
    table_id ${text}, parts ${text}, inputs ${text}, data_version ${text}, files ${text}, updated_at ${time}, definition ${text})${using}`,
    // Added after version 1 shipped on DuckDB; Databricks tables are created with it.
    ...(spark ? [] : [`ALTER TABLE ${T("run_tables")} ADD COLUMN IF NOT EXISTS attempts BIGINT DEFAULT 0`]),
    // Version 2 (Databricks has no ADD COLUMN IF NOT EXISTS: see `upgrades`).
    ...(spark ? [] : [`ALTER TABLE ${T("runs")} ADD COLUMN IF NOT EXISTS unchanged_tables VARCHAR`]),
    // Version 4: the definition a table was last built from, for `plan --diff`.
    ...(spark ? [] : [`ALTER TABLE ${T("table_state")} ADD COLUMN IF NOT EXISTS definition VARCHAR`])
  ]
}

/** Statements that bring a store of an older version up to date where `migrations` cannot; run after them, in one transaction. */
const upgrades = (d: Dialect, T: (name: string) => string, from: number): ReadonlyArray<string> => {
  if (from === 0) return []
  if (d.name === "spark") {
    return [
      ...(from === 1 ? [`ALTER TABLE ${T("runs")} ADD COLUMNS (unchanged_tables STRING)`] : []),
      ...(from < 4 ? [`ALTER TABLE ${T("table_state")} ADD COLUMNS (definition STRING)`] : [])
    ]
  }
  // Versions 3 and 5 drop the primary keys of runs and table_state; DuckDB cannot drop a
  // constraint, so the table is copied.
  const withoutKey = (table: string) => [
    `CREATE OR REPLACE TABLE ${T(`${table}__unkeyed`)} AS SELECT * FROM ${T(table)}`,
    `DROP TABLE ${T(table)}`,
    `ALTER TABLE ${T(`${table}__unkeyed`)} RENAME TO ${table}`
  ]
  return [...(from < 3 ? withoutKey("runs") : []), ...(from < 5 ? withoutKey("table_state") : [])]
}

/** A stored time as ISO-8601 UTC text (what the store decodes). */
const isoTime = (d: Dialect, column: string) => (d.name === "spark" ? column : `strftime(${column} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ')`)

// Rows as the engine returns them: BIGINT as text, timestamps as text, maps as JSON text.
const Count = Schema.NumberFromString
/** ISO 8601 in UTC, from DuckDB's text form (`2026-11-26 18:44:22.573+00`) or an engine's ISO text. */
const toIso = (text: string): string => {
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(text.trim())
  if (m === null) return text
  const zone = m[3] === undefined || m[3] === "Z" ? "Z" : /^[+-]\d\d$/.test(m[3]) ? `${m[3]}:00` : m[3].replace(/^([+-]\d\d)(\d\d)$/, "$1:$2")
  const date = new Date(`${m[1]}T${m[2]}${zone}`)
  return Number.isNaN(date.getTime()) ? text : date.toISOString()
}
const Timestamp = Schema.String.pipe(Schema.decodeTo(Schema.String, SchemaTransformation.transform({ decode: toIso, encode: (iso: string) => iso })))
const RunRow = Schema.Struct({
  ...RunRecord.fields,
  pipelines: CommaList,
  // Missing in a store not migrated yet (read-only commands), NULL in rows written before version 2.
  unchanged_tables: Schema.optional(Schema.NullOr(CommaList)),
  started_at: Timestamp,
  finished_at: Schema.NullOr(Timestamp),
  records_in: Count,
  records_out: Count,
  errors: Count
})
const TableRow = Schema.Struct({
  ...TableRecord.mapFields(({ table: _, expectations: __, ...fields }) => fields).fields,
  table_id: Schema.String,
  rows_in: Count,
  rows_out: Count,
  quarantined: Count,
  dropped: Count,
  duplicates: Count,
  rejected: Count,
  dropped_by_reason: Schema.fromJsonString(Schema.Record(Schema.String, Schema.Number)),
  attempts: Count
})
const Json = Schema.fromJsonString(Schema.Record(Schema.String, Schema.String))
const FileMeta = Schema.fromJsonString(Schema.Record(Schema.String, Schema.Struct({ size: Schema.Number, modifiedAt: Schema.NullOr(Schema.String) })))
const StateRow = Schema.Struct({
  table_id: Schema.String,
  parts: Json,
  inputs: Json,
  data_version: Schema.String,
  files: FileMeta,
  definition: Schema.optionalKey(Schema.NullOr(Schema.fromJsonString(Schema.Record(Schema.String, Schema.Unknown))))
})
const FileRow = Schema.Struct({
  path: Schema.String,
  size: Count,
  modified_at: Schema.NullOr(Schema.String),
  checksum: Schema.String,
  batch_id: Schema.String,
  ingested_at: Schema.NullOr(Schema.String)
})
const ExpectationRow = Schema.Struct({ ...ExpectationResult.fields, table_id: Schema.String, passed: Count, failed: Count })

const decodeRows =
  <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) =>
  (rows: ReadonlyArray<Row>) =>
    Schema.decodeUnknownEffect(Schema.Array(schema))(rows, { onExcessProperty: "ignore" }).pipe(
      Effect.mapError((e) => new ExecutorError({ statement: "(reading _medallion)", reason: new QueryFailed({ detail: `unexpected metadata row: ${e.message}` }) }))
    )

export interface StoreOptions {
  /** false: use the warehouse as it is, for read-only plans. */
  readonly migrate: boolean
  /**
   * Where runs that found nothing to do, or that the warehouse could not take, wait: given for a
   * DuckDB warehouse file (which one process at a time opens for writing); without it they are
   * written at once.
   */
  readonly pendingRuns?: PendingRuns | undefined
  /**
   * Keep runs that found nothing to do in `pendingRuns` (an apply). Otherwise (history readers,
   * the server) opening the store moves the pending runs into the warehouse first, and marks runs
   * left "running" crashed: no other process can have the file open, so theirs died.
   */
  readonly deferNoOpRuns?: boolean | undefined
}

/** At most this many runs wait in the pending-runs file (a day of hourly runs); the next is written with them. */
export const pendingLimit = 24

const make = (options: StoreOptions) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const d = executor.dialect
    const lit = d.literal
    const T = (name: string) => d.table("_medallion", name)
    const values = (items: ReadonlyArray<unknown>) => `(${items.map((v) => (typeof v === "number" || typeof v === "boolean" || v === null ? lit(v) : lit(String(v)))).join(", ")})`
    // The store's own statements ride out transient failures too (those inside a table's
    // transaction are retried with the table).
    const retried = retryBookkeeping
    const run = (statements: ReadonlyArray<string>) => retried(executor.withSession((s) => Effect.forEach(statements, s.execute, { discard: true })))
    const query = (sql: string) => retried(executor.withSession((s) => s.query(sql)))

    if (options.migrate) {
      // One cheap read on the common path: migrate only when the recorded version is older. On a new
      // warehouse the table is not there and the read fails: an answer, so its span is no error.
      const current = yield* executor
        .withSession((s) => s.query(`SELECT version FROM ${T("meta")}`))
        .pipe(
          Effect.provideService(ExpectedFailure, true),
          Effect.map((rows) => Number(rows[0]?.["version"] ?? 0)),
          Effect.orElseSucceed(() => 0)
        )
      if (current < schemaVersion) {
        yield* run(migrations(d, T))
        const upgrade = upgrades(d, T, current)
        if (upgrade.length > 0) yield* retried(executor.withSession((s) => s.transaction(Effect.forEach(upgrade, s.execute, { discard: true }))))
        yield* run([d.createTable(T("meta"), `SELECT ${schemaVersion} AS version`)])
      }
    }

    const pending = options.pendingRuns
    const deferNoOpRuns = pending !== undefined && options.deferNoOpRuns === true
    // The pending-runs file only holds history: a problem with it is reported and fails no command,
    // and loses no run (one that cannot wait there is written at once; what is there stays).
    const reported =
      <A>(fallback: A) =>
      (error: PendingRunsError) =>
        Effect.as(Effect.logWarning(error.message), fallback)
    const readPending = pending === undefined ? Effect.succeed([]) : pending.read.pipe(Effect.catch(reported<ReadonlyArray<PendingRun>>([])))
    const clearPending = pending === undefined ? Effect.void : pending.clear.pipe(Effect.catch(reported(undefined)))
    /**
     * Inserts the pending runs not in the table yet (a run that moved them in may have died before
     * clearing the file), with their tables. A run that waits there is finished: a row of it still
     * "running" (or marked crashed since) is its start, and gives way.
     */
    const insertPending = (s: Session, runs: ReadonlyArray<PendingRun>) =>
      Effect.gen(function* () {
        if (runs.length === 0) return
        const ids = runs.map((r) => lit(r.batch_id)).join(", ")
        yield* s.execute(`DELETE FROM ${T("runs")} WHERE batch_id IN (${ids}) AND status IN ('running', 'crashed')`)
        const present = new Set((yield* s.query(`SELECT batch_id FROM ${T("runs")} WHERE batch_id IN (${ids})`)).map((row) => String(row["batch_id"])))
        const missing = runs.filter((r) => !present.has(r.batch_id))
        if (missing.length === 0) return
        const statements = [`INSERT INTO ${T("runs")} VALUES ${missing.map(runRow).join(", ")}`, ...missing.flatMap((r) => tableStatements(r.batch_id, r.tables ?? []))]
        yield* Effect.forEach(statements, s.execute, { discard: true })
      })
    const insertRows = (table: string, rows: ReadonlyArray<string>) => (rows.length === 0 ? [] : [`INSERT INTO ${table} VALUES ${rows.join(", ")}`])
    /** A run's tables (those that ran: an unchanged table is named on the run) and their expectation results. */
    const tableStatements = (batchId: string, tables: ReadonlyArray<TableRecord>) => [
      ...insertRows(
        T("run_tables"),
        tables
          .filter((t) => t.status !== "unchanged")
          .map((t) =>
            values([
              batchId,
              t.table,
              t.pipeline,
              t.layer,
              t.mode,
              t.status,
              t.reason,
              t.error,
              t.rows_in,
              t.rows_out,
              t.quarantined,
              t.dropped,
              t.duplicates,
              t.rejected,
              JSON.stringify(t.dropped_by_reason),
              t.duration_seconds,
              t.accounting_ok,
              t.attempts
            ])
          )
      ),
      ...insertRows(
        T("expectation_results"),
        tables.flatMap((t) => t.expectations.map((e) => values([batchId, t.table, e.expectation, e.kind, e.on_fail, e.passed, e.failed])))
      )
    ]
    /**
     * Runs left "running" by a dead process become "crashed", with the totals of the tables they
     * recorded (each in its publishing transaction); when they died is not known, so their duration
     * stays 0. One query when there are none.
     */
    const closeAbandoned = Effect.gen(function* () {
      const abandoned = (yield* query(`SELECT batch_id FROM ${T("runs")} WHERE status = 'running'`)).map((r) => String(r["batch_id"]))
      if (abandoned.length === 0) return 0
      const sums = yield* query(`SELECT batch_id, sum(rows_in) AS records_in, sum(rows_out) AS records_out,
        sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS errors
      FROM ${T("run_tables")} WHERE batch_id IN (${abandoned.map(lit).join(", ")}) GROUP BY batch_id`)
      const totals = new Map(sums.map((r) => [String(r["batch_id"]), { records_in: Number(r["records_in"]), records_out: Number(r["records_out"]), errors: Number(r["errors"]) }]))
      yield* retried(
        executor.withSession((s) =>
          s.transaction(
            Effect.forEach(
              abandoned,
              (batchId) => {
                const t = totals.get(batchId) ?? { records_in: 0, records_out: 0, errors: 0 }
                const columns = { status: "crashed", ...t, success_rate: successRate(t.records_in, t.records_out) }
                return s.execute(`UPDATE ${T("runs")} SET ${Object.entries(columns)
                  .map(([c, v]) => `${c} = ${lit(v)}`)
                  .join(", ")}
        WHERE batch_id = ${lit(batchId)} AND status = 'running'`)
              },
              { discard: true }
            )
          )
        )
      )
      return abandoned.length
    })
    const runRow = (r: RunRecord) =>
      values([
        r.batch_id,
        r.pipelines.join(","),
        r.env,
        r.engine,
        r.started_at,
        r.finished_at,
        r.status,
        r.records_in,
        r.records_out,
        r.duration_seconds,
        r.errors,
        r.success_rate,
        r.throughput,
        r.unchanged_tables.join(",")
      ])
    /** The columns a finished run sets on the row its start inserted. */
    const runUpdate = (r: RunRecord) =>
      Object.entries({
        finished_at: r.finished_at,
        status: r.status,
        records_in: r.records_in,
        records_out: r.records_out,
        duration_seconds: r.duration_seconds,
        errors: r.errors,
        success_rate: r.success_rate,
        throughput: r.throughput,
        unchanged_tables: r.unchanged_tables.join(",")
      })
        .map(([column, value]) => `${column} = ${lit(value)}`)
        .join(", ")
    const decodeRuns = (rows: ReadonlyArray<Row>) =>
      decodeRows(RunRow)(rows).pipe(
        Effect.map((runs) =>
          runs.map(
            (r): RunRecord => ({
              ...r,
              unchanged_tables: r.unchanged_tables ?? [],
              // From the counts, so that runs stored before the rate was null for no rows (they said 1) read the same.
              success_rate: successRate(r.records_in, r.records_out)
            })
          )
        )
      )
    // Any command but an apply: what waits is moved in before anything reads the history, and runs
    // left running are marked crashed (an apply does that as its run starts).
    if (pending !== undefined && !deferNoOpRuns) {
      const runs = yield* readPending
      if (runs.length > 0) {
        yield* retried(executor.withSession((s) => s.transaction(insertPending(s, runs))))
        yield* clearPending
      }
      yield* closeAbandoned
    }

    return MetadataStore.of({
      startRun: (r) => run([`INSERT INTO ${T("runs")} VALUES ${runRow(r)}`]),
      finishRun: (r, tables, started) =>
        Effect.gen(function* () {
          const waiting = yield* readPending
          const noOp = !started && r.status === "succeeded" && tables.every((t) => t.status === "unchanged")
          // A run the warehouse refused (it waits with its tables) is written at the first chance.
          const refused = waiting.some((w) => w.tables !== undefined)
          if (deferNoOpRuns && noOp && !refused && waiting.length < pendingLimit) {
            const kept = yield* pending.append(r).pipe(Effect.as(true), Effect.catch(reported(false)))
            if (kept) return
          }
          const statements = [
            started ? `UPDATE ${T("runs")} SET ${runUpdate(r)} WHERE batch_id = ${lit(r.batch_id)}` : `INSERT INTO ${T("runs")} VALUES ${runRow(r)}`,
            // An unchanged table is named on the run: a no-op run then writes one row, not one per table.
            ...tableStatements(r.batch_id, tables)
          ]
          // A run that only writes its row needs no transaction around it.
          const written = yield* retried(
            executor.withSession((s) =>
              statements.length === 1 && waiting.length === 0
                ? s.execute(statements[0]!)
                : s.transaction(Effect.andThen(Effect.forEach(statements, s.execute, { discard: true }), insertPending(s, waiting)))
            )
          ).pipe(Effect.result)
          if (Result.isSuccess(written)) {
            if (waiting.length > 0) yield* clearPending
            return
          }
          // The warehouse cannot take it (a full disk, say): the run waits for the next command that can
          // write, which replaces its "running" row; or, when it cannot wait either, the error says so.
          const cause = written.failure.message
          if (pending === undefined) return yield* new HistoryNotWritten({ batchId: r.batch_id, status: r.status, started, cause, fallback: null })
          yield* pending
            .append({ ...r, tables })
            .pipe(Effect.mapError((e) => new HistoryNotWritten({ batchId: r.batch_id, status: r.status, started, cause, fallback: e.message })))
          yield* Effect.logWarning(
            `run ${r.batch_id} (${r.status}): its history could not be written into the warehouse (${cause}); it waits in ${pending.file} for the next command that can write it`
          )
        }),
      recordTable: (session, batchId, table) => Effect.forEach(tableStatements(batchId, [table]), session.execute, { discard: true }),
      recordIngested: (session: Session, table, batchId, files) =>
        files.length === 0
          ? Effect.void
          : session
              .execute(`INSERT INTO ${T("ingested_files")} VALUES ${files.map((f) => values([table, f.path, f.size, f.modifiedAt, f.checksum, f.batchId ?? batchId])).join(", ")}`)
              .pipe(Effect.asVoid),
      consumedBatches: (table, input) =>
        query(`SELECT DISTINCT batch_id FROM ${T("consumed_batches")} WHERE table_id = ${lit(table)} AND input_id = ${lit(input)}`).pipe(
          Effect.map((rows) => new Set(rows.map((r) => String(r["batch_id"]))))
        ),
      recordConsumed: (session, table, input, batchIds) =>
        batchIds.length === 0
          ? Effect.void
          : session.execute(`INSERT INTO ${T("consumed_batches")} VALUES ${batchIds.map((b) => values([table, input, b])).join(", ")}`).pipe(Effect.asVoid),
      recordBatch: (session, b: BatchRecord) =>
        session.execute(`INSERT INTO ${T("batches")} VALUES ${values([b.batch_id, b.table, b.source, b.layer, b.ingestion_time, b.record_count, b.checksum])}`).pipe(Effect.asVoid),
      ingestedFiles: (table) =>
        // The batch's ingestion time is the `_ingested_at` of the file's rows: a rebuild gives it back.
        query(`SELECT f.path, f.size, ${isoTime(d, "f.modified_at")} AS modified_at, f.checksum, f.batch_id, ${isoTime(d, "b.ingestion_time")} AS ingested_at
             FROM ${T("ingested_files")} f
             LEFT JOIN (SELECT batch_id, min(ingestion_time) AS ingestion_time FROM ${T("batches")} WHERE table_id = ${lit(table)} GROUP BY batch_id) b
               ON b.batch_id = f.batch_id
             WHERE f.table_id = ${lit(table)} QUALIFY row_number() OVER (PARTITION BY f.path ORDER BY f.batch_id DESC) = 1`).pipe(
          Effect.flatMap(decodeRows(FileRow)),
          Effect.map(
            (rows) =>
              new Map(
                rows.map((r) => [
                  r.path,
                  {
                    path: r.path,
                    size: r.size,
                    modifiedAt: r.modified_at,
                    checksum: r.checksum,
                    batchId: r.batch_id,
                    ingestedAt: r.ingested_at ?? undefined
                  }
                ])
              )
          )
        ),
      resetLedgers: (session, table) =>
        Effect.forEach(
          [`DELETE FROM ${T("ingested_files")} WHERE table_id = ${lit(table)}`, `DELETE FROM ${T("consumed_batches")} WHERE table_id = ${lit(table)}`],
          session.execute,
          { discard: true }
        ),
      tableStates: query(`SELECT * FROM ${T("table_state")}`).pipe(
        Effect.flatMap(decodeRows(StateRow)),
        Effect.map(
          (rows) => new Map(rows.map((r) => [r.table_id, { parts: r.parts, inputs: r.inputs, dataVersion: r.data_version, files: r.files, definition: r.definition ?? undefined }]))
        )
      ),
      saveState: (session, table, state) =>
        Effect.forEach(
          [
            `DELETE FROM ${T("table_state")} WHERE table_id = ${lit(table)}`,
            `INSERT INTO ${T("table_state")} (table_id, parts, inputs, data_version, files, updated_at, definition) VALUES ${values([
              table,
              JSON.stringify(state.parts),
              JSON.stringify(state.inputs),
              state.dataVersion,
              JSON.stringify(state.files),
              new Date().toISOString(),
              state.definition === undefined ? null : JSON.stringify(state.definition)
            ])}`
          ],
          session.execute,
          { discard: true }
        ),
      closeAbandonedRuns: closeAbandoned,
      recentRuns: (limit) => query(`SELECT * FROM ${T("runs")} ORDER BY started_at DESC, batch_id DESC LIMIT ${Math.max(1, Math.floor(limit))}`).pipe(Effect.flatMap(decodeRuns)),
      findRun: (batchId) =>
        query(`SELECT * FROM ${T("runs")} WHERE batch_id = ${lit(batchId)}`).pipe(
          Effect.flatMap(decodeRuns),
          Effect.map((runs) => runs[0])
        ),
      runTables: (batchId) =>
        Effect.gen(function* () {
          const tables = yield* query(`SELECT * FROM ${T("run_tables")} WHERE batch_id = ${lit(batchId)} ORDER BY table_id`).pipe(Effect.flatMap(decodeRows(TableRow)))
          const expectations = yield* query(`SELECT * FROM ${T("expectation_results")} WHERE batch_id = ${lit(batchId)}`).pipe(Effect.flatMap(decodeRows(ExpectationRow)))
          return tables.map(
            ({ table_id, ...t }): TableRecord => ({
              table: table_id,
              ...t,
              expectations: expectations.filter((e) => e.table_id === table_id).map(({ table_id: _, ...e }) => e)
            })
          )
        })
    })
  })

export const layer = Layer.effect(MetadataStore, make({ migrate: true }))
export const layerWith = (options: StoreOptions) => Layer.effect(MetadataStore, make(options))
export const layerReadOnly = Layer.effect(MetadataStore, make({ migrate: false }))
