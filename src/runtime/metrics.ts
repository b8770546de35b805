/**
 * The run's metrics, recorded with Effect's Metric module: in memory always (a few map updates per
 * table), exported over OTLP only when telemetry is on (see telemetry/Telemetry.ts).
 */
import { Effect, Metric } from "effect"
import type { RunRecord, TableRecord } from "../metadata/MetadataStore.ts"

/** Seconds: from a trivial table to a long backfill. */
const durationBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

const rowsProcessed = Metric.counter("medallion.rows.processed", { description: "Rows read by a table (rows_in)", incremental: true })
const rowsQuarantined = Metric.counter("medallion.rows.quarantined", { description: "Rows a table sent to quarantine", incremental: true })
const rowsDropped = Metric.counter("medallion.rows.dropped", { description: "Rows a table dropped (expectations, filters)", incremental: true })
const tableDuration = Metric.histogram("medallion.table.duration", { description: "Seconds a table took, retries included", boundaries: durationBoundaries })
const runDuration = Metric.histogram("medallion.run.duration", { description: "Seconds a run took", boundaries: durationBoundaries })
const runs = Metric.counter("medallion.runs", { description: "Finished runs, by status", incremental: true })

/**
 * The unit of each metric, in UCUM as OpenTelemetry spells it (`s`, and `{row}`-style annotations
 * for counts), for the exporters that carry units (the CLI hands them to the telemetry layer);
 * Effect's metrics have none.
 */
export const units: Readonly<Record<string, string>> = {
  "medallion.rows.processed": "{row}",
  "medallion.rows.quarantined": "{row}",
  "medallion.rows.dropped": "{row}",
  "medallion.table.duration": "s",
  "medallion.run.duration": "s",
  "medallion.runs": "{run}",
  "medallion.schedule.firings": "{firing}"
}

/**
 * Once per finished table (skipped ones too, whose counts are zero; they add no duration). An
 * unchanged table records nothing: it processed no rows, and the milliseconds of finding that out
 * would drag its duration histogram away from what a build of it costs.
 */
export const recordTable = (table: TableRecord): Effect.Effect<void> => {
  if (table.status === "unchanged") return Effect.void
  const attributes = { table: table.table, layer: table.layer, pipeline: table.pipeline }
  return Effect.all(
    [
      Metric.update(Metric.withAttributes(rowsProcessed, attributes), table.rows_in),
      Metric.update(Metric.withAttributes(rowsQuarantined, attributes), table.quarantined),
      Metric.update(Metric.withAttributes(rowsDropped, attributes), table.dropped),
      table.status === "skipped" ? Effect.void : Metric.update(Metric.withAttributes(tableDuration, attributes), table.duration_seconds)
    ],
    { discard: true }
  )
}

/** Once per finished run. */
export const recordRun = (run: RunRecord): Effect.Effect<void> => {
  const attributes = { status: run.status }
  return Effect.all([Metric.update(Metric.withAttributes(runs, attributes), 1), Metric.update(Metric.withAttributes(runDuration, attributes), run.duration_seconds)], {
    discard: true
  })
}
