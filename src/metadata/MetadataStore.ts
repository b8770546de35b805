/**
 * The metadata store contract: run history, per-table accounting, expectation results, batches
 * and the ledgers that keep appends from doubling rows. Implementation: SqlMetadataStore.ts, in
 * a `_medallion` schema beside the data.
 */
import { Context, type Effect, Schema, SchemaTransformation } from "effect"
import type { ExecutorError, Session } from "../executor/Executor.ts"
import type { TableState } from "../plan/changes.ts"

/** skipped: not run because an upstream table failed; unchanged: nothing to do since the last run. */
const TableStatus = Schema.Literals(["succeeded", "unchanged", "failed", "skipped"])

export const ExpectationResult = Schema.Struct({
  expectation: Schema.String,
  kind: Schema.String,
  on_fail: Schema.String,
  passed: Schema.Number,
  failed: Schema.Number
})
export type ExpectationResult = typeof ExpectationResult.Type

/** One table's outcome in a run. rows_in = rows_out + quarantined + dropped + duplicates + rejected. */
export const TableRecord = Schema.Struct({
  table: Schema.String,
  pipeline: Schema.String,
  layer: Schema.String,
  mode: Schema.String,
  status: TableStatus,
  /** Why a table was skipped, or a short note such as "no new files". */
  reason: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  rows_in: Schema.Number,
  rows_out: Schema.Number,
  quarantined: Schema.Number,
  dropped: Schema.Number,
  duplicates: Schema.Number,
  rejected: Schema.Number,
  dropped_by_reason: Schema.Record(Schema.String, Schema.Number),
  expectations: Schema.Array(ExpectationResult),
  duration_seconds: Schema.Number,
  accounting_ok: Schema.Boolean,
  /** Retries of transient failures before the table succeeded or failed. */
  attempts: Schema.Number
})
export type TableRecord = typeof TableRecord.Type

/** A list stored comma-joined in one text column (a run's pipelines, its unchanged tables). */
export const CommaList = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Array(Schema.String),
    SchemaTransformation.transform({
      decode: (text): ReadonlyArray<string> => text.split(",").filter((p) => p !== ""),
      encode: (names: ReadonlyArray<string>) => names.join(",")
    })
  )
)

/** The seed's PipelineMetrics, per run. */
export const RunRecord = Schema.Struct({
  batch_id: Schema.String,
  pipelines: Schema.Array(Schema.String),
  env: Schema.String,
  engine: Schema.String,
  started_at: Schema.String,
  finished_at: Schema.NullOr(Schema.String),
  status: Schema.Literals(["running", "succeeded", "failed", "cancelled", "crashed"]),
  records_in: Schema.Number,
  records_out: Schema.Number,
  duration_seconds: Schema.Number,
  errors: Schema.Number,
  /** records_out / records_in; null when no row came in (see successRate). */
  success_rate: Schema.NullOr(Schema.Number).annotate({ description: "records_out / records_in; null when no row came in" }),
  throughput: Schema.Number,
  /** Tables found unchanged (nothing to do): listed here, not recorded one by one with the tables that ran. */
  unchanged_tables: Schema.Array(Schema.String)
})
export type RunRecord = typeof RunRecord.Type

/**
 * The seed's success_rate: the share of the rows in that came out, records_out / records_in. Null
 * when no row came in (a run with nothing to do, or one that failed before reading anything): no
 * rows is neither all of them nor none. Runs, the run history and the API all use this one.
 */
export const successRate = (recordsIn: number, recordsOut: number): number | null => (recordsIn === 0 ? null : recordsOut / recordsIn)

/** The seed's BatchMetadata: one batch per table written in a run. */
export interface BatchRecord {
  readonly batch_id: string
  readonly table: string
  readonly source: string
  readonly layer: string
  readonly ingestion_time: string
  readonly record_count: number
  readonly checksum: string
}

export interface IngestedFile {
  readonly path: string
  readonly size: number
  readonly modifiedAt: string | null
  readonly checksum: string
}

/** A file as the ledger holds it: with the batch that first ingested this content, and when. */
export interface LedgerFile extends IngestedFile {
  readonly batchId: string
  /** ISO-8601; undefined for a batch whose record is missing. */
  readonly ingestedAt: string | undefined
}

/**
 * A finished run's record could be written neither into the warehouse nor beside it (a full disk,
 * say): the run happened, but its history is lost. Names the run, both causes and what remains.
 */
export class HistoryNotWritten extends Schema.TaggedError<HistoryNotWritten>()("HistoryNotWritten", {
  batchId: Schema.String,
  status: Schema.String,
  /** Whether the run's start (its "running" row) was recorded. */
  started: Schema.Boolean,
  cause: Schema.String,
  /** Why the run could not wait beside the warehouse either (null where nothing can wait). */
  fallback: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    return (
      `the history of run ${this.batchId} (${this.status}) could not be written into the warehouse: ${this.cause.split("\n")[0]}` +
      (this.fallback === null ? "" : `; nor kept beside it: ${this.fallback}`) +
      (this.started ? `. The next command marks it crashed, with only the tables it published (medallion runs ${this.batchId})` : `. It will not appear in medallion runs`) +
      ". Free space, or fix what the error names, before the next run"
    )
  }
}

export class MetadataStore extends Context.Service<
  MetadataStore,
  {
    /** Inserts the row of a run that is about to change the warehouse, so that one that dies is found "running" (and marked crashed). */
    readonly startRun: (run: RunRecord) => Effect.Effect<void, ExecutorError>
    /**
     * Statements recording one table of a run (its `run_tables` row and expectation results), to run
     * in the transaction that publishes the table: a run killed after that still lists it.
     */
    readonly recordTable: (session: Session, batchId: string, table: TableRecord) => Effect.Effect<void, ExecutorError>
    /**
     * Records the finished run and the tables not recorded when they published (`recordTable`), the
     * unchanged ones only by name (in `run.unchanged_tables`): updates the row `startRun` inserted
     * when `started`, else inserts one (or, for a run that found every table unchanged, may keep it in
     * the pending runs). When the warehouse cannot take it, the run waits in the pending runs for the
     * next command that can write it; HistoryNotWritten when it cannot wait there either.
     */
    readonly finishRun: (run: RunRecord, tables: ReadonlyArray<TableRecord>, started: boolean) => Effect.Effect<void, HistoryNotWritten>
    /**
     * Statements recording ingested files, to run in the same transaction as the append. A file with
     * its own `batchId` (a rebuild giving a file back the batch that first ingested it) keeps it.
     */
    readonly recordIngested: (
      session: Session,
      table: string,
      batchId: string,
      files: ReadonlyArray<IngestedFile & { readonly batchId?: string | undefined }>
    ) => Effect.Effect<void, ExecutorError>
    /** Input batch ids a table has already consumed from its input. */
    readonly consumedBatches: (table: string, input: string) => Effect.Effect<ReadonlySet<string>, ExecutorError>
    readonly recordConsumed: (session: Session, table: string, input: string, batchIds: ReadonlyArray<string>) => Effect.Effect<void, ExecutorError>
    readonly recordBatch: (session: Session, batch: BatchRecord) => Effect.Effect<void, ExecutorError>
    /** Files ingested into a table, by path: the latest version of each, with the batch that ingested it. */
    readonly ingestedFiles: (table: string) => Effect.Effect<ReadonlyMap<string, LedgerFile>, ExecutorError>
    /** Forget what a table ingested or consumed, inside the transaction that rebuilds it. */
    readonly resetLedgers: (session: Session, table: string) => Effect.Effect<void, ExecutorError>
    readonly tableStates: Effect.Effect<ReadonlyMap<string, TableState>, ExecutorError>
    readonly saveState: (session: Session, table: string, state: TableState) => Effect.Effect<void, ExecutorError>
    /**
     * Marks runs left "running" by a process that died as "crashed", with their totals (records in
     * and out, failed tables) summed from the tables they recorded; returns how many.
     */
    readonly closeAbandonedRuns: Effect.Effect<number, ExecutorError>
    readonly recentRuns: (limit: number) => Effect.Effect<ReadonlyArray<RunRecord>, ExecutorError>
    readonly findRun: (batchId: string) => Effect.Effect<RunRecord | undefined, ExecutorError>
    /** The tables that ran (or were skipped after an upstream failure); unchanged ones are listed on the run. */
    readonly runTables: (batchId: string) => Effect.Effect<ReadonlyArray<TableRecord>, ExecutorError>
  }
>()("medallion/metadata/MetadataStore") {}
