/** Human-readable output of the CLI. Pure string building. */
import { statementMarker } from "../executor/Executor.ts"
import type { RunRecord, TableRecord } from "../metadata/MetadataStore.ts"

/** 1234567 -> "1,234,567"; plain string work, since the first toLocaleString call loads ICU data (~10 ms). */
export const n = (value: number) => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",")
const pad = (text: string, width: number) => text.padEnd(width)

/** A table's error; its statement only with --verbose (it is in the trace and `runs --json` too). */
const errorText = (error: string, verbose: boolean) => {
  const at = error.indexOf(statementMarker)
  return at === -1 || verbose ? error : `${error.slice(0, at)}\n(the SQL that failed: medallion apply --verbose, or medallion runs <batch_id> --json)`
}

export const tableLine = (t: TableRecord, verbose = false): string => {
  const status = { succeeded: "ok  ", unchanged: "same", failed: "FAIL", skipped: "skip" }[t.status]
  const head = `  ${status}  ${pad(t.table, 32)} ${pad(t.mode, 8)}`
  if (t.status === "skipped") return `${head} skipped: ${t.reason ?? ""}`
  if (t.status === "unchanged") return `${head} unchanged`
  if (t.status === "failed") return `${head} ${t.duration_seconds.toFixed(2)}s\n        ${errorText(t.error ?? "", verbose).replaceAll("\n", "\n        ")}`
  const parts = [`in ${n(t.rows_in)}`, `out ${n(t.rows_out)}`]
  if (t.quarantined > 0) parts.push(`quarantined ${n(t.quarantined)}`)
  if (t.dropped > 0) parts.push(`dropped ${n(t.dropped)}`)
  if (t.duplicates > 0) parts.push(`duplicates ${n(t.duplicates)}`)
  if (t.rejected > 0) parts.push(`rejected lines ${n(t.rejected)}`)
  if (t.attempts > 1) parts.push(`attempts ${t.attempts}`)
  const warned = t.expectations.filter((e) => e.on_fail === "warn" && e.failed > 0)
  const warnings = warned.map((e) => `\n        warn: ${e.expectation} failed for ${n(e.failed)} row(s)`).join("")
  const note = t.reason === null ? "" : `  (${t.reason})`
  const accounting = t.accounting_ok ? "" : "\n        warn: row accounting does not balance; see medallion runs --json"
  return `${head} ${pad(parts.join("  "), 70)} ${t.duration_seconds.toFixed(2)}s${note}${warnings}${accounting}`
}

export const runSummary = (run: RunRecord, tables: ReadonlyArray<TableRecord>): string => {
  const count = (s: TableRecord["status"]) => tables.filter((t) => t.status === s).length
  return (
    `run ${run.status}: ${count("succeeded")} succeeded, ${count("unchanged")} unchanged, ${count("failed")} failed, ${count("skipped")} skipped; ` +
    `${n(run.records_in)} rows in, ${n(run.records_out)} out in ${run.duration_seconds.toFixed(2)}s (batch ${run.batch_id})`
  )
}

export const runLine = (r: RunRecord): string =>
  `${pad(r.batch_id, 30)} ${pad(r.status, 10)} ${pad(r.started_at, 25)} ${pad(`${r.duration_seconds.toFixed(2)}s`, 9)} ` +
  `in ${pad(n(r.records_in), 12)} out ${pad(n(r.records_out), 12)} ${r.pipelines.join(",")}`
