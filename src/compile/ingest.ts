/**
 * Compiles a bronze table: read the given files as they are and add lineage columns
 * (`_batch_id`, `_source_file`, `_ingested_at`, `_source_row`). Pure; which files to read, and
 * which batch each belongs to, is decided by the runtime.
 *
 * Each file is read on its own: the reader then detects each file's dialect (line endings, quoting,
 * header) by itself, a file with more or other columns is added by name instead of being cut to the
 * first file's columns, and `_source_row` is the row's position in its file. With the file's
 * batch and time of arrival, that gives every row an arrival order that a rebuild reproduces.
 */
import type { IngestNode } from "../plan/Plan.ts"
import type { Dialect } from "./Dialect.ts"

/** Columns bronze adds to every row. `_source_file` comes from the reader. */
export const lineageColumns = ["_batch_id", "_source_file", "_ingested_at", "_source_row"] as const

/** The columns that order rows by arrival: when the batch arrived, then the file, then the row in it. */
export const arrivalColumns = ["_ingested_at", "_source_file", "_source_row"] as const

/** A file to read, with the batch its rows belong to (the one that first ingested this content). */
export interface IngestFile {
  readonly path: string
  readonly batchId: string
  /** ISO-8601: when that batch ingested it. */
  readonly ingestedAt: string
}

export interface IngestInputs {
  /** This run's batch and start: the rejected lines are this run's. */
  readonly batchId: string
  readonly startedAt: string
  readonly files: ReadonlyArray<IngestFile>
}

export interface IngestProgram {
  /** Per file, in order: its rows with lineage. A table of one file is built from it in one pass. */
  readonly reads: ReadonlyArray<string>
  /** Several files are staged: the first creates the stage, each next one is inserted by name. */
  readonly stage: string
  readonly createStage: string
  readonly insertIntoStage: (index: number) => string
  readonly countStage: string
  /** The staged rows. */
  readonly output: string
  /** Malformed lines the reader kept aside, once the reads ran; undefined for formats without rejects. */
  readonly rejected: string | undefined
  readonly cleanup: ReadonlyArray<string>
}

/** The query reading one source file as it is, with the file in `_source_file`. */
export const readSource = (d: Dialect, node: IngestNode, file: string, rejects?: { readonly table: string; readonly scan: string }) => {
  const options = node.source.options ?? {}
  return d.readFiles(node.source.format, [file], {
    delimiter: options.delimiter, header: options.header, quote: options.quote, escape: options.escape, inferTypes: options.infer_types
  }, "_source_file", rejects)
}

export const compileIngest = (d: Dialect, node: IngestNode, inputs: IngestInputs): IngestProgram => {
  const q = d.quote
  const stage = `__stage_bronze_${node.name}`
  // One pair of rejects tables for every read of the run: the reader adds each scan's lines to them.
  const rejects = node.source.format === "csv" && d.readsRejects
    ? { table: `__rejects_bronze_${node.name}`, scan: `__rejects_scan_bronze_${node.name}` }
    : undefined
  const reads = inputs.files.map((file) =>
    `SELECT *, ${d.rowPosition} AS ${q("_source_row")}, ${d.literal(file.batchId)} AS ${q("_batch_id")}, ${d.timestamp(file.ingestedAt)} AS ${q("_ingested_at")} FROM (${
      readSource(d, node, file.path, rejects)}) AS file`)
  const rejectedLines = rejects === undefined ? undefined : d.rejectedLines(rejects)
  return {
    reads,
    stage,
    createStage: d.createTempTable(stage, reads[0] ?? "SELECT NULL AS nothing LIMIT 0"),
    insertIntoStage: (index) => d.insertByName(d.tempTable(stage), reads[index]!),
    countStage: `SELECT count(*) AS n FROM ${d.tempTable(stage)}`,
    output: `SELECT * FROM ${d.tempTable(stage)}`,
    rejected: rejectedLines === undefined ? undefined
      : `SELECT ${d.literal(inputs.batchId)} AS ${q("_batch_id")}, ${d.timestamp(inputs.startedAt)} AS ${q("_ingested_at")}, rejected.* FROM (${rejectedLines}) AS rejected`,
    cleanup: [d.dropTempTable(stage), ...(rejects === undefined ? [] : [d.dropTempTable(rejects.table), d.dropTempTable(rejects.scan)])]
  }
}
