/**
 * The metadata store as tables in a `_medallion` schema, written through the Executor, so it lives
 * in the same database as the data and commits in the same transactions as appends.
 */
import { Effect, Layer, Schema, SchemaTransformation } from "effect"
import { Executor, ExecutorError, QueryFailed, type Row, type Session } from "../executor/Executor.ts"
import { retryBookkeeping } from "../executor/policy.ts"
import { type BatchRecord, ExpectationResult, MetadataStore, RunRecord, TableRecord } from "./MetadataStore.ts"

/** Bump when `migrations` gains a statement. */
const schemaVersion = 1

const migrations = [
  `CREATE SCHEMA IF NOT EXISTS _medallion`,
  `CREATE TABLE IF NOT EXISTS _medallion.runs (
    batch_id VARCHAR PRIMARY KEY, pipelines VARCHAR, env VARCHAR, engine VARCHAR,
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR,
    records_in BIGINT, records_out BIGINT, duration_seconds DOUBLE, errors BIGINT,
    success_rate DOUBLE, throughput DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS _medallion.run_tables (
    batch_id VARCHAR, table_id VARCHAR, pipeline VARCHAR, layer VARCHAR, mode VARCHAR, status VARCHAR,
    reason VARCHAR, error VARCHAR, rows_in BIGINT, rows_out BIGINT, quarantined BIGINT, dropped BIGINT,
    duplicates BIGINT, rejected BIGINT, dropped_by_reason VARCHAR, duration_seconds DOUBLE, accounting_ok BOOLEAN)`,
  `CREATE TABLE IF NOT EXISTS _medallion.expectation_results (
    batch_id VARCHAR, table_id VARCHAR, expectation VARCHAR, kind VARCHAR, on_fail VARCHAR, passed BIGINT, failed BIGINT)`,
  `CREATE TABLE IF NOT EXISTS _medallion.batches (
    batch_id VARCHAR, table_id VARCHAR, source VARCHAR, layer VARCHAR, ingestion_time TIMESTAMPTZ,
    record_count BIGINT, checksum VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS _medallion.ingested_files (
    table_id VARCHAR, path VARCHAR, size BIGINT, modified_at TIMESTAMPTZ, checksum VARCHAR, batch_id VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS _medallion.consumed_batches (table_id VARCHAR, input_id VARCHAR, batch_id VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS _medallion.table_state (
    table_id VARCHAR PRIMARY KEY, parts VARCHAR, inputs VARCHAR, data_version VARCHAR, files VARCHAR, updated_at TIMESTAMPTZ)`,
  `ALTER TABLE _medallion.run_tables ADD COLUMN IF NOT EXISTS attempts BIGINT DEFAULT 0`
]

// Rows as the engine returns them: BIGINT as text, timestamps as text, maps as JSON text.
const Count = Schema.NumberFromString
const Timestamp = Schema.String
const RunRow = Schema.Struct({
  ...RunRecord.fields,
  pipelines: Schema.String.pipe(Schema.decodeTo(Schema.Array(Schema.String), SchemaTransformation.transform({
    decode: (text): ReadonlyArray<string> => text.split(",").filter((p) => p !== ""),
    encode: (names: ReadonlyArray<string>) => names.join(",")
  }))),
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
const StateRow = Schema.Struct({ table_id: Schema.String, parts: Json, inputs: Json, data_version: Schema.String, files: FileMeta })
const FileRow = Schema.Struct({ path: Schema.String, size: Count, modified_at: Schema.NullOr(Schema.String), checksum: Schema.String })
const ExpectationRow = Schema.Struct({ ...ExpectationResult.fields, table_id: Schema.String, passed: Count, failed: Count })

const decodeRows = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) => (rows: ReadonlyArray<Row>) =>
  Schema.decodeUnknownEffect(Schema.Array(schema))(rows, { onExcessProperty: "ignore" }).pipe(
    Effect.mapError((e) => new ExecutorError({ statement: "(reading _medallion)", reason: new QueryFailed({ detail: `unexpected metadata row: ${e.message}` }) }))
  )

/** The store; `migrate: false` uses the warehouse as it is, for read-only plans. */
export const make = (options: { readonly migrate: boolean }) => Effect.gen(function*() {
  const executor = yield* Executor
  const lit = executor.dialect.literal
  const values = (items: ReadonlyArray<unknown>) =>
    `(${items.map((v) => (typeof v === "number" || typeof v === "boolean" || v === null ? lit(v) : lit(String(v)))).join(", ")})`
  // The store's own statements ride out transient failures too (those inside a table's
  // transaction are retried with the table).
  const retried = retryBookkeeping
  const run = (statements: ReadonlyArray<string>) =>
    retried(executor.withSession((s) => Effect.forEach(statements, s.execute, { discard: true })))
  const query = (sql: string) => retried(executor.withSession((s) => s.query(sql)))

  if (options.migrate) {
    // One cheap read on the common path: migrate only when the recorded version is older.
    const current = yield* executor.withSession((s) => s.query(`SELECT version FROM _medallion.meta`)).pipe(
      Effect.map((rows) => Number(rows[0]?.["version"] ?? 0)),
      Effect.orElseSucceed(() => 0)
    )
    if (current < schemaVersion) {
      yield* Effect.forEach(migrations, (statement) => run([statement]), { discard: true })
      yield* run([`CREATE OR REPLACE TABLE _medallion.meta AS SELECT ${schemaVersion} AS version`])
    }
  }

  const insertRows = (table: string, rows: ReadonlyArray<string>) => rows.length === 0 ? [] : [`INSERT INTO ${table} VALUES ${rows.join(", ")}`]
  const runRow = (r: RunRecord) => values([
    r.batch_id, r.pipelines.join(","), r.env, r.engine, r.started_at, r.finished_at, r.status,
    r.records_in, r.records_out, r.duration_seconds, r.errors, r.success_rate, r.throughput
  ])
  return MetadataStore.of({
    startRun: (r) => run([`INSERT INTO _medallion.runs VALUES ${runRow(r)}`]),
    finishRun: (r, tables) =>
      retried(executor.withSession((s) =>
        s.transaction(Effect.forEach([
          `DELETE FROM _medallion.runs WHERE batch_id = ${lit(r.batch_id)}`,
          `INSERT INTO _medallion.runs VALUES ${runRow(r)}`,
          ...insertRows("_medallion.run_tables", tables.map((t) => values([
            r.batch_id, t.table, t.pipeline, t.layer, t.mode, t.status, t.reason, t.error, t.rows_in, t.rows_out,
            t.quarantined, t.dropped, t.duplicates, t.rejected, JSON.stringify(t.dropped_by_reason), t.duration_seconds, t.accounting_ok,
            t.attempts
          ]))),
          ...insertRows("_medallion.expectation_results", tables.flatMap((t) => t.expectations.map((e) =>
            values([r.batch_id, t.table, e.expectation, e.kind, e.on_fail, e.passed, e.failed]))))
        ], s.execute, { discard: true }))
      )),
    recordIngested: (session: Session, table, batchId, files) =>
      files.length === 0 ? Effect.void : session.execute(`INSERT INTO _medallion.ingested_files VALUES ${
        files.map((f) => values([table, f.path, f.size, f.modifiedAt, f.checksum, batchId])).join(", ")}`).pipe(Effect.asVoid),
    consumedBatches: (table, input) =>
      query(`SELECT DISTINCT batch_id FROM _medallion.consumed_batches WHERE table_id = ${lit(table)} AND input_id = ${lit(input)}`).pipe(
        Effect.map((rows) => new Set(rows.map((r) => String(r["batch_id"]))))
      ),
    recordConsumed: (session, table, input, batchIds) =>
      batchIds.length === 0 ? Effect.void : session.execute(`INSERT INTO _medallion.consumed_batches VALUES ${
        batchIds.map((b) => values([table, input, b])).join(", ")}`).pipe(Effect.asVoid),
    recordBatch: (session, b: BatchRecord) =>
      session.execute(`INSERT INTO _medallion.batches VALUES ${values([
        b.batch_id, b.table, b.source, b.layer, b.ingestion_time, b.record_count, b.checksum
      ])}`).pipe(Effect.asVoid),
    ingestedFiles: (table) =>
      query(`SELECT path, size, strftime(modified_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS modified_at, checksum
             FROM _medallion.ingested_files WHERE table_id = ${lit(table)} QUALIFY row_number() OVER (PARTITION BY path ORDER BY batch_id DESC) = 1`).pipe(
        Effect.flatMap(decodeRows(FileRow)),
        Effect.map((rows) => new Map(rows.map((r) => [r.path, { path: r.path, size: r.size, modifiedAt: r.modified_at, checksum: r.checksum }])))
      ),
    resetLedgers: (session, table) =>
      Effect.forEach([
        `DELETE FROM _medallion.ingested_files WHERE table_id = ${lit(table)}`,
        `DELETE FROM _medallion.consumed_batches WHERE table_id = ${lit(table)}`
      ], session.execute, { discard: true }),
    tableStates: query(`SELECT table_id, parts, inputs, data_version, files FROM _medallion.table_state`).pipe(
      Effect.flatMap(decodeRows(StateRow)),
      Effect.map((rows) => new Map(rows.map((r) => [r.table_id, { parts: r.parts, inputs: r.inputs, dataVersion: r.data_version, files: r.files }])))
    ),
    saveState: (session, table, state) =>
      Effect.forEach([
        `DELETE FROM _medallion.table_state WHERE table_id = ${lit(table)}`,
        `INSERT INTO _medallion.table_state VALUES ${values([table, JSON.stringify(state.parts), JSON.stringify(state.inputs), state.dataVersion, JSON.stringify(state.files), new Date().toISOString()])}`
      ], session.execute, { discard: true }),
    closeAbandonedRuns: retried(executor.withSession((s) => s.execute(`UPDATE _medallion.runs SET status = 'crashed' WHERE status = 'running'`))),
    recentRuns: (limit) =>
      query(`SELECT * FROM _medallion.runs ORDER BY started_at DESC, batch_id DESC LIMIT ${Math.max(1, Math.floor(limit))}`).pipe(
        Effect.flatMap(decodeRows(RunRow))
      ),
    runTables: (batchId) =>
      Effect.gen(function*() {
        const tables = yield* query(`SELECT * FROM _medallion.run_tables WHERE batch_id = ${lit(batchId)} ORDER BY table_id`).pipe(Effect.flatMap(decodeRows(TableRow)))
        const expectations = yield* query(`SELECT * FROM _medallion.expectation_results WHERE batch_id = ${lit(batchId)}`).pipe(Effect.flatMap(decodeRows(ExpectationRow)))
        return tables.map(({ table_id, ...t }): TableRecord => ({
          table: table_id,
          ...t,
          expectations: expectations.filter((e) => e.table_id === table_id).map(({ table_id: _, ...e }) => e)
        }))
      })
  })
})

export const layer = Layer.effect(MetadataStore, make({ migrate: true }))
export const layerReadOnly = Layer.effect(MetadataStore, make({ migrate: false }))
