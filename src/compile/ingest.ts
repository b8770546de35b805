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
import type { Dialect, RejectsSql, RejectsTables } from "./Dialect.ts"

/** Columns bronze adds to every row. */
export const lineageColumns = ["_batch_id", "_source_file", "_ingested_at", "_source_row"] as const

/** The columns that order rows by arrival: when the batch arrived, then the file, then the row in it. */
export const arrivalColumns = ["_ingested_at", "_source_file", "_source_row"] as const

/** A file to read, with the batch its rows belong to (the one that first ingested this content). */
export interface IngestFile {
  readonly path: string
  /** The file as its rows name it in `_source_file`: relative to the project when inside it. */
  readonly name: string
  readonly batchId: string
  /** ISO-8601: when that batch ingested it. */
  readonly ingestedAt: string
  /** A copy to read instead, without the lines set aside before reading (their numbers, ascending). */
  readonly copy?: { readonly path: string; readonly removedLines: ReadonlyArray<number> } | undefined
}

/** The longest CSV line a source takes by default, in bytes (DuckDB's default too). */
const defaultMaxLineBytes = 2_000_000

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
  /** Where the runtime adds what the reader cannot keep exactly; undefined without rejects. */
  readonly lines: LineStatements | undefined
  readonly cleanup: ReadonlyArray<string>
}

/**
 * The lines the runtime handles itself, from the file's bytes: lines set aside before the read (too
 * long for the reader), and the exact bytes of lines the reader rejected as not UTF-8 (it keeps
 * them with bytes replaced). Both go to the rejects with their bytes in `raw_bytes`.
 */
export interface LineStatements {
  /** Creates the scratch tables; run before the reads. */
  readonly prepare: ReadonlyArray<string>
  /** Adds a line set aside: its file, number, error and a file holding its bytes. */
  readonly setAside: (line: { readonly file: string; readonly line: number; readonly errorType: string; readonly message: string; readonly bytesFile: string }) => string
  /** Query: the rejected lines not valid UTF-8: `source_file` (the path read), `line`, `byte_position` (1-based). */
  readonly encodingErrors: string
  /** Adds the bytes of rejected lines of the file read at `path`, from a file of `line,hex` rows. */
  readonly addBytes: (path: string, hexFile: string) => string
}

/** The query reading one source file as it is, with the file in `_source_file`. */
export const readSource = (d: Dialect, node: IngestNode, file: string, rejects?: RejectsTables) => {
  const options = node.source.options ?? {}
  return d.readFiles(
    node.source.format,
    [file],
    {
      delimiter: options.delimiter,
      header: options.header,
      quote: options.quote,
      escape: options.escape,
      inferTypes: options.infer_types,
      maxLineBytes: options.max_line_bytes
    },
    "_source_file",
    rejects
  )
}

/** The longest line a CSV source takes, in bytes. */
export const maxLineBytes = (node: IngestNode) => node.source.options?.max_line_bytes ?? defaultMaxLineBytes

export const compileIngest = (d: Dialect, node: IngestNode, inputs: IngestInputs): IngestProgram => {
  const q = d.quote
  const stage = `__stage_bronze_${node.name}`
  // One pair of rejects tables for every read of the run: the reader adds each scan's lines to them.
  const rejects = node.source.format === "csv" && d.rejects !== undefined ? { table: `__rejects_bronze_${node.name}`, scan: `__rejects_scan_bronze_${node.name}` } : undefined
  const reads = inputs.files.map((file) => {
    // The reader names the path it read (a copy's, an absolute one): rows name the file as the project does.
    const columns = d.starReplace([["_source_file", d.literal(file.name)]])
    return `SELECT ${columns}, ${d.rowPosition} AS ${q("_source_row")}, ${d.literal(file.batchId)} AS ${q("_batch_id")}, ${d.timestamp(file.ingestedAt)} AS ${q("_ingested_at")} FROM (${readSource(
      d,
      node,
      file.copy?.path ?? file.path,
      rejects
    )}) AS file`
  })
  const lines = rejects === undefined || d.rejects === undefined ? undefined : lineStatements(d, d.rejects, node, rejects, inputs)
  return {
    reads,
    stage,
    createStage: d.createTempTable(stage, reads[0] ?? "SELECT NULL AS nothing LIMIT 0"),
    insertIntoStage: (index) => d.insertByName(d.tempTable(stage), reads[index]!),
    countStage: `SELECT count(*) AS n FROM ${d.tempTable(stage)}`,
    output: `SELECT * FROM ${d.tempTable(stage)}`,
    rejected: lines?.rejected,
    lines: lines?.statements,
    cleanup: [
      d.dropTempTable(stage),
      ...(rejects === undefined ? [] : [d.dropTempTable(rejects.table), d.dropTempTable(rejects.scan)]),
      ...(lines?.scratch ?? []).map(d.dropTempTable)
    ]
  }
}

const lineStatements = (d: Dialect, sql: RejectsSql, node: IngestNode, rejects: RejectsTables, inputs: IngestInputs) => {
  const q = d.quote
  const setAside = `__set_aside_bronze_${node.name}`
  const rawBytes = `__raw_bytes_bronze_${node.name}`
  const lineColumns = `source_file VARCHAR, line BIGINT, error_type VARCHAR, error_message VARCHAR, raw_line VARCHAR, raw_bytes ${sql.bytesType}`
  const copies = inputs.files.filter((f) => f.copy !== undefined)
  // Lines the reader rejected are named by the file, as its rows name it, and (in a copy) by their number in the file.
  const fileRead = (column: string) =>
    `CASE ${column} ${inputs.files.map((f) => `WHEN ${d.literal(f.copy?.path ?? f.path)} THEN ${d.literal(f.name)}`).join(" ")} ELSE ${column} END`
  const lineRead = (file: string, line: string) =>
    copies.length === 0
      ? line
      : `CASE ${file} ${copies.map((f) => `WHEN ${d.literal(f.copy!.path)} THEN ${sql.lineInOriginal(line, f.copy!.removedLines)}`).join(" ")} ELSE ${line} END`
  const rejected = `SELECT ${fileRead("r.source_file")} AS source_file, ${lineRead("r.source_file", "r.line")} AS line, r.error_type, r.error_message, r.raw_line, b.raw_bytes
    FROM (${sql.rejectedLines(rejects)}) AS r LEFT JOIN ${d.tempTable(rawBytes)} AS b ON b.source_file = r.source_file AND b.line = r.line
    UNION ALL SELECT * FROM ${d.tempTable(setAside)}`
  return {
    scratch: [setAside, rawBytes],
    rejected: `SELECT ${d.literal(inputs.batchId)} AS ${q("_batch_id")}, ${d.timestamp(inputs.startedAt)} AS ${q("_ingested_at")}, rejected.* FROM (${rejected}) AS rejected`,
    statements: {
      prepare: [
        `CREATE OR REPLACE TEMP TABLE ${q(setAside)} (${lineColumns})`,
        `CREATE OR REPLACE TEMP TABLE ${q(rawBytes)} (source_file VARCHAR, line BIGINT, raw_bytes ${sql.bytesType})`
      ],
      setAside: (l) =>
        `INSERT INTO ${d.tempTable(setAside)} SELECT ${d.literal(l.file)}, ${l.line}, ${d.literal(l.errorType)}, ${d.literal(l.message)}, NULL, content FROM (${sql.fileBytes(l.bytesFile)}) AS f`,
      encodingErrors: `SELECT source_file, line, byte_position FROM (${sql.rejectedLines(rejects)}) AS r WHERE error_type LIKE '%INVALID ENCODING%' ORDER BY source_file, byte_position`,
      addBytes: (path, hexFile) => `INSERT INTO ${d.tempTable(rawBytes)} SELECT ${d.literal(path)}, line, content FROM (${sql.hexLines(hexFile, maxLineBytes(node))}) AS h`
    } satisfies LineStatements
  }
}
