/**
 * The metadata store as tables in a `_medallion` schema, written through the Executor, so it lives
 * in the same database as the data and commits in the same transactions as appends.
 */
import { Effect, Layer } from "effect"
import { Executor, type Row, type Session } from "../executor/Executor.ts"
import { type BatchRecord, MetadataStore, type RunRecord, type TableRecord } from "./MetadataStore.ts"

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
  `CREATE TABLE IF NOT EXISTS _medallion.consumed_batches (table_id VARCHAR, input_id VARCHAR, batch_id VARCHAR)`
]

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value))
const str = (value: unknown): string | null => (value === null || value === undefined ? null : String(value))

export const layer = Layer.effect(
  MetadataStore,
  Effect.gen(function*() {
    const executor = yield* Executor
    const lit = executor.dialect.literal
    const values = (items: ReadonlyArray<unknown>) =>
      `(${items.map((v) => (typeof v === "number" || typeof v === "boolean" || v === null ? lit(v) : lit(String(v)))).join(", ")})`
    const run = (statements: ReadonlyArray<string>) =>
      executor.withSession((s) => Effect.forEach(statements, s.execute, { discard: true }))
    const query = (sql: string) => executor.withSession((s) => s.query(sql))

    yield* run(migrations)

    const runRow = (r: RunRecord) => values([
      r.batch_id, r.pipelines.join(","), r.env, r.engine, r.started_at, r.finished_at, r.status,
      r.records_in, r.records_out, r.duration_seconds, r.errors, r.success_rate, r.throughput
    ])
    const toRun = (row: Row): RunRecord => ({
      batch_id: String(row["batch_id"]),
      pipelines: String(row["pipelines"] ?? "").split(",").filter((p) => p !== ""),
      env: String(row["env"]),
      engine: String(row["engine"]),
      started_at: String(row["started_at"]),
      finished_at: str(row["finished_at"]),
      status: String(row["status"]) as RunRecord["status"],
      records_in: num(row["records_in"]),
      records_out: num(row["records_out"]),
      duration_seconds: num(row["duration_seconds"]),
      errors: num(row["errors"]),
      success_rate: num(row["success_rate"]),
      throughput: num(row["throughput"])
    })

    return MetadataStore.of({
      startRun: (r) => run([`INSERT INTO _medallion.runs VALUES ${runRow(r)}`]),
      finishRun: (r, tables) =>
        executor.withSession((s) =>
          s.transaction(Effect.forEach([
            `DELETE FROM _medallion.runs WHERE batch_id = ${lit(r.batch_id)}`,
            `INSERT INTO _medallion.runs VALUES ${runRow(r)}`,
            ...tables.map((t) =>
              `INSERT INTO _medallion.run_tables VALUES ${values([
                r.batch_id, t.table, t.pipeline, t.layer, t.mode, t.status, t.reason, t.error, t.rows_in, t.rows_out,
                t.quarantined, t.dropped, t.duplicates, t.rejected, JSON.stringify(t.dropped_by_reason), t.duration_seconds, t.accounting_ok
              ])}`),
            ...tables.flatMap((t) => t.expectations.map((e) =>
              `INSERT INTO _medallion.expectation_results VALUES ${values([r.batch_id, t.table, e.expectation, e.kind, e.on_fail, e.passed, e.failed])}`))
          ], s.execute, { discard: true }))
        ),
      ingestedChecksums: (table) =>
        query(`SELECT DISTINCT checksum FROM _medallion.ingested_files WHERE table_id = ${lit(table)}`).pipe(
          Effect.map((rows) => new Set(rows.map((r) => String(r["checksum"]))))
        ),
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
      recentRuns: (limit) =>
        query(`SELECT * FROM _medallion.runs ORDER BY started_at DESC, batch_id DESC LIMIT ${Math.max(1, Math.floor(limit))}`).pipe(
          Effect.map((rows) => rows.map(toRun))
        ),
      runTables: (batchId) =>
        Effect.gen(function*() {
          const tables = yield* query(`SELECT * FROM _medallion.run_tables WHERE batch_id = ${lit(batchId)} ORDER BY table_id`)
          const expectations = yield* query(`SELECT * FROM _medallion.expectation_results WHERE batch_id = ${lit(batchId)}`)
          return tables.map((t): TableRecord => ({
            table: String(t["table_id"]),
            pipeline: String(t["pipeline"]),
            layer: String(t["layer"]),
            mode: String(t["mode"]),
            status: String(t["status"]) as TableRecord["status"],
            reason: str(t["reason"]),
            error: str(t["error"]),
            rows_in: num(t["rows_in"]),
            rows_out: num(t["rows_out"]),
            quarantined: num(t["quarantined"]),
            dropped: num(t["dropped"]),
            duplicates: num(t["duplicates"]),
            rejected: num(t["rejected"]),
            dropped_by_reason: JSON.parse(String(t["dropped_by_reason"] ?? "{}")) as Record<string, number>,
            expectations: expectations.filter((e) => e["table_id"] === t["table_id"]).map((e) => ({
              expectation: String(e["expectation"]),
              kind: String(e["kind"]),
              on_fail: String(e["on_fail"]),
              passed: num(e["passed"]),
              failed: num(e["failed"])
            })),
            duration_seconds: num(t["duration_seconds"]),
            accounting_ok: t["accounting_ok"] === true
          }))
        })
    })
  })
)
