/**
 * Compiles a bronze table: read the given files as they are and add lineage columns
 * (`_batch_id`, `_source_file`, `_ingested_at`). Pure; which files to read is decided by the runtime.
 */
import type { IngestNode } from "../plan/Plan.ts"
import type { Dialect } from "./Dialect.ts"

export interface IngestInputs {
  readonly batchId: string
  readonly startedAt: string
  readonly files: ReadonlyArray<string>
}

export interface IngestProgram {
  /** The files' rows with lineage: a replace builds the new table straight from it, in one pass. */
  readonly read: string
  /**
   * An append stages the new files first (`buildStage`, then `countStage`), because it looks at
   * their columns before inserting (schema drift) and must not read the files twice.
   */
  readonly stage: string
  readonly buildStage: string
  readonly countStage: string
  /** The staged rows. */
  readonly output: string
  /** Malformed lines the reader kept aside, with the batch id, once `read` or `buildStage` ran; undefined for formats without rejects. */
  readonly rejected: string | undefined
  readonly cleanup: ReadonlyArray<string>
}

/** The query reading a source's files as they are, with each row's file in `_source_file`. */
export const readSource = (d: Dialect, node: IngestNode, files: ReadonlyArray<string>, rejects?: { readonly table: string; readonly scan: string }) => {
  const options = node.source.options ?? {}
  return d.readFiles(node.source.format, files, {
    delimiter: options.delimiter, header: options.header, quote: options.quote, escape: options.escape, inferTypes: options.infer_types
  }, "_source_file", rejects)
}

export const compileIngest = (d: Dialect, node: IngestNode, inputs: IngestInputs): IngestProgram => {
  const q = d.quote
  const stage = `__stage_bronze_${node.name}`
  const rejects = node.source.format === "csv" && d.readsRejects
    ? { table: `__rejects_bronze_${node.name}`, scan: `__rejects_scan_bronze_${node.name}` }
    : undefined
  const read = readSource(d, node, inputs.files, rejects)
  const lineage = `${d.literal(inputs.batchId)} AS ${q("_batch_id")}, ${d.timestamp(inputs.startedAt)} AS ${q("_ingested_at")}`
  const rejectedLines = rejects === undefined ? undefined : d.rejectedLines(rejects)
  const rows = `SELECT *, ${lineage} FROM (${read}) AS files`
  return {
    read: rows,
    stage,
    buildStage: d.createTempTable(stage, rows),
    countStage: `SELECT count(*) AS n FROM ${d.tempTable(stage)}`,
    output: `SELECT * FROM ${d.tempTable(stage)}`,
    rejected: rejectedLines === undefined ? undefined : `SELECT ${lineage}, rejected.* FROM (${rejectedLines}) AS rejected`,
    cleanup: [d.dropTempTable(stage), ...(rejects === undefined ? [] : [d.dropTempTable(rejects.table), d.dropTempTable(rejects.scan)])]
  }
}
