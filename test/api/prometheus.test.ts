/** The Prometheus text format of Effect metrics: names, labels (escaped), histogram buckets. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { render } from "../../src/api/prometheus.ts"

describe("Prometheus exposition", () => {
  it.effect("renders counters, gauges and cumulative histograms with escaped labels", () =>
    Effect.gen(function* () {
      const rows = Metric.counter("medallion.rows.processed", { description: "Rows read", incremental: true })
      const depth = Metric.gauge("queue.depth")
      const seconds = Metric.histogram("medallion.run.duration", { description: "Seconds", boundaries: [1, 5] })
      yield* Metric.update(Metric.withAttributes(rows, { table: "gold.x", note: 'a "quoted"\nline\\' }), 3)
      yield* Metric.update(depth, 2)
      for (const s of [0.5, 2, 7]) yield* Metric.update(Metric.withAttributes(seconds, { status: "succeeded" }), s)
      const text = render(yield* Metric.snapshot)
      assert.include(text, "# HELP medallion_rows_processed_total Rows read\n# TYPE medallion_rows_processed_total counter\n")
      assert.include(text, `medallion_rows_processed_total{table="gold.x",note="a \\"quoted\\"\\nline\\\\"} 3\n`)
      assert.include(text, "# TYPE queue_depth gauge\nqueue_depth 2\n")
      assert.include(
        text,
        [
          "# TYPE medallion_run_duration histogram",
          `medallion_run_duration_bucket{status="succeeded",le="1"} 1`,
          `medallion_run_duration_bucket{status="succeeded",le="5"} 2`,
          `medallion_run_duration_bucket{status="succeeded",le="+Inf"} 3`,
          `medallion_run_duration_sum{status="succeeded"} 9.5`,
          `medallion_run_duration_count{status="succeeded"} 3`
        ].join("\n")
      )
      assert.isTrue(text.endsWith("\n"))
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )
})
