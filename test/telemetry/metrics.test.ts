/**
 * Metrics end to end: the CLI as a child process exports OTLP/HTTP JSON metrics to a real receiver
 * on loopback (flushed at exit), next to its traces.
 */
import { describe, it } from "@effect/vitest"
import { afterAll, assert, beforeAll } from "vitest"
import type { TestProject } from "../support/project.ts"
import { cliAsync, receiver, shopProject, value } from "./receiver.ts"

const project = () => shopProject("drop")

interface Point {
  readonly metric: string
  readonly attributes: Record<string, unknown>
  readonly value?: number | undefined
  readonly count?: number | undefined
  readonly sum?: number | undefined
}

/** Every data point of every received metric, latest export last. */
const points = (bodies: ReadonlyArray<any>): Array<Point> =>
  bodies.flatMap((b) =>
    b.resourceMetrics.flatMap((rm: any) =>
      rm.scopeMetrics.flatMap((sm: any) =>
        sm.metrics.flatMap((m: any) =>
          (m.sum?.dataPoints ?? m.histogram?.dataPoints ?? m.gauge?.dataPoints ?? []).map((p: any) => ({
            metric: m.name,
            attributes: Object.fromEntries((p.attributes ?? []).map((a: any) => [a.key, value(a.value)])),
            value: p.asDouble ?? (p.asInt === undefined ? undefined : Number(p.asInt)),
            count: p.count === undefined ? undefined : Number(p.count),
            sum: p.sum
          }))
        )
      )
    )
  )

/** The last reported point of `metric` whose attributes include `attributes` (cumulative: the final value). */
const last = (all: ReadonlyArray<Point>, metric: string, attributes: Record<string, unknown> = {}) =>
  all.filter((p) => p.metric === metric && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)).at(-1)

describe("metrics (OTLP/HTTP JSON)", () => {
  let collector: Awaited<ReturnType<typeof receiver>>
  const projects: Array<TestProject> = []
  beforeAll(async () => {
    collector = await receiver()
  })
  afterAll(async () => {
    await collector.close()
    for (const p of projects) p.remove()
  })

  it("exports row counters per table and the run duration at exit", async () => {
    const p = project()
    projects.push(p)
    collector.reset()
    const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint })
    assert.strictEqual(result.code, 0, result.stderr)
    const bodies = collector.metrics()
    assert.isAbove(bodies.length, 0, "a POST to /v1/metrics")
    const resource = Object.fromEntries(bodies[0].resourceMetrics[0].resource.attributes.map((a: any) => [a.key, value(a.value)]))
    assert.deepInclude(resource, { "service.name": "medallion", "service.version": "0.1.0" })
    const all = points(bodies)

    const silver = { table: "silver.orders", layer: "silver", pipeline: "shop" }
    assert.strictEqual(last(all, "medallion.rows.processed", silver)?.value, 4)
    assert.strictEqual(last(all, "medallion.rows.quarantined", silver)?.value, 2)
    assert.strictEqual(last(all, "medallion.rows.dropped", silver)?.value, 1)
    assert.strictEqual(last(all, "medallion.rows.processed", { table: "bronze.orders", layer: "bronze", pipeline: "shop" })?.value, 4)
    assert.strictEqual(last(all, "medallion.table.duration", silver)?.count, 1)

    const run = last(all, "medallion.run.duration", { status: "succeeded" })
    assert.isDefined(run)
    assert.strictEqual(run!.count, 1)
    assert.isAbove(run!.sum ?? 0, 0)
    assert.strictEqual(last(all, "medallion.runs", { status: "succeeded" })?.value, 1)
    // Units as the OpenTelemetry conventions write them: durations in seconds, counts annotated.
    const units = Object.fromEntries(
      bodies.flatMap((b) => b.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => [m.name, m.unit]))))
    )
    assert.deepInclude(units, { "medallion.table.duration": "s", "medallion.run.duration": "s", "medallion.rows.processed": "{row}", "medallion.runs": "{run}" })
    // Traces still go out alongside.
    assert.isTrue(collector.spans().some((s) => s.name === "medallion.apply"))

    // A re-apply finds every table unchanged: it counts the run, and no table series.
    collector.reset()
    const noop = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint })
    assert.strictEqual(noop.code, 0, noop.stderr)
    const again = points(collector.metrics())
    assert.strictEqual(last(again, "medallion.runs", { status: "succeeded" })?.value, 1)
    assert.isUndefined(last(again, "medallion.table.duration", silver))
    assert.isUndefined(last(again, "medallion.rows.processed", silver))
  }, 60_000)

  it("OTEL_METRICS_EXPORTER=none keeps traces and turns metrics off", async () => {
    const p = project()
    projects.push(p)
    collector.reset()
    const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_METRICS_EXPORTER: "none" })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.isTrue(collector.spans().some((s) => s.name === "medallion.apply"))
    assert.strictEqual(collector.metrics().length, 0)
  }, 60_000)
})
