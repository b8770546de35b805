/**
 * Runs that found every table unchanged wait beside the warehouse (PendingRuns.ts) and move into
 * `_medallion.runs` with the next run row written, or when the store is opened by anything but an
 * apply: on a real DuckDB file, with the file read and written as the CLI does.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { MetadataStore, type RunRecord, type TableRecord } from "../../src/metadata/MetadataStore.ts"
import * as PendingRuns from "../../src/metadata/PendingRuns.ts"
import * as SqlMetadataStore from "../../src/metadata/SqlMetadataStore.ts"
import { makeProject, rows, type TestProject } from "../support/project.ts"

const warehouse = (project: TestProject) => join(project.dir, ".medallion", "warehouse.duckdb")
const pendingFile = (project: TestProject) => `${warehouse(project)}.pending-runs.jsonl`

/** The store as `medallion apply` (defer) or any other command (no defer) opens it. */
const store = (project: TestProject, deferNoOpRuns: boolean) =>
  Layer.unwrap(Effect.map(PendingRuns.make(warehouse(project)), (pendingRuns) =>
    SqlMetadataStore.layerWith({ migrate: true, pendingRuns, deferNoOpRuns }))).pipe(
      Layer.provideMerge(DuckDbExecutor.layer({ path: warehouse(project), threads: 1 })),
      Layer.provideMerge(NodeServices.layer)
    )

const run = (n: number, unchanged: ReadonlyArray<string> = ["gold.a"]): RunRecord => ({
  batch_id: `20261127T0000${String(n).padStart(2, "0")}000Z-0000000${n % 10}`, pipelines: ["shop"], env: "test", engine: "duckdb",
  started_at: `2026-11-27T00:00:${String(n).padStart(2, "0")}.000Z`, finished_at: `2026-11-27T00:00:${String(n).padStart(2, "0")}.500Z`,
  status: "succeeded", records_in: 0, records_out: 0, duration_seconds: 0.5, errors: 0, success_rate: 1, throughput: 0,
  unchanged_tables: unchanged
})

const failedTable: TableRecord = {
  table: "gold.a", pipeline: "shop", layer: "gold", mode: "replace", status: "failed", reason: null, error: "boom",
  rows_in: 0, rows_out: 0, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {}, expectations: [],
  duration_seconds: 0, accounting_ok: true, attempts: 1
}

const storedRuns = rows(`SELECT batch_id, status, unchanged_tables FROM _medallion.runs ORDER BY batch_id`)
const pendingIds = (project: TestProject) => readFileSync(pendingFile(project), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as RunRecord).batch_id)

/** Runs `body` on a fresh project; the store layers are provided by the body, one per "process". */
const inFreshProject = <A, E>(body: (project: TestProject) => Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    const project = makeProject()
    return body(project).pipe(Effect.ensuring(Effect.sync(project.remove)))
  })

describe("pending runs", () => {
  it.effect("an apply keeps a run that found nothing to do beside the warehouse; the next run written takes it in", () =>
    inFreshProject((project) =>
      Effect.gen(function*() {
        yield* Effect.gen(function*() {
          const s = yield* MetadataStore
          yield* s.finishRun(run(1), [], false)
          yield* s.finishRun(run(2), [], false)
          assert.deepStrictEqual(yield* storedRuns, [])
          assert.deepStrictEqual(pendingIds(project), [run(1).batch_id, run(2).batch_id])
          // A run that started writing is recorded in the warehouse, with the ones waiting, in one transaction.
          yield* s.startRun({ ...run(3), status: "running", finished_at: null })
          yield* s.finishRun(run(3, []), [], true)
          assert.deepStrictEqual((yield* storedRuns).map((r) => [r["batch_id"], r["status"], r["unchanged_tables"]]), [
            [run(1).batch_id, "succeeded", "gold.a"],
            [run(2).batch_id, "succeeded", "gold.a"],
            [run(3).batch_id, "succeeded", ""]
          ])
        }).pipe(Effect.provide(store(project, true)))
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
      })))

  it.effect("a failed or cancelled run is written at once, even by an apply", () =>
    inFreshProject((project) =>
      Effect.gen(function*() {
        const s = yield* MetadataStore
        yield* s.finishRun({ ...run(1), status: "failed", errors: 1 }, [failedTable], false)
        yield* s.finishRun({ ...run(2), status: "cancelled" }, [], false)
        assert.deepStrictEqual((yield* storedRuns).map((r) => r["status"]), ["failed", "cancelled"])
      }).pipe(Effect.provide(store(project, true)))))

  it.effect(`at most ${SqlMetadataStore.pendingLimit} runs wait: the next is written with them`, () =>
    inFreshProject((project) =>
      Effect.gen(function*() {
        const s = yield* MetadataStore
        for (let n = 1; n <= SqlMetadataStore.pendingLimit; n++) yield* s.finishRun(run(n), [], false)
        assert.strictEqual(pendingIds(project).length, SqlMetadataStore.pendingLimit)
        assert.deepStrictEqual(yield* storedRuns, [])
        yield* s.finishRun(run(SqlMetadataStore.pendingLimit + 1), [], false)
        assert.strictEqual((yield* storedRuns).length, SqlMetadataStore.pendingLimit + 1)
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
      }).pipe(Effect.provide(store(project, true)))))

  it.effect("a pending-runs file that cannot be used fails nothing: the run is written into the warehouse, with a warning", () =>
    inFreshProject((project) =>
      Effect.gen(function*() {
        mkdirSync(pendingFile(project), { recursive: true })
        const warnings: Array<string> = []
        const capture = Logger.layer([Logger.make(({ logLevel, message }) => {
          if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message.join(" ") : message))
        })])
        yield* Effect.flatMap(MetadataStore, (s) => s.finishRun(run(1), [], false)).pipe(Effect.provide(Layer.merge(store(project, true), capture)))
        assert.deepStrictEqual((yield* storedRuns.pipe(Effect.provide(store(project, true)))).map((r) => r["batch_id"]), [run(1).batch_id])
        assert.isTrue(warnings.some((w) => w.includes(`cannot keep run ${run(1).batch_id} here`) && w.includes("written into the warehouse instead")), warnings.join("\n"))
      })))

  it.effect("any other command moves them in when it opens the store, never twice, skipping a line cut short", () =>
    inFreshProject((project) =>
      Effect.gen(function*() {
        yield* Effect.flatMap(MetadataStore, (s) => Effect.andThen(s.finishRun(run(1), [], false), s.finishRun(run(2), [], false))).pipe(
          Effect.provide(store(project, true))
        )
        const waiting = readFileSync(pendingFile(project), "utf8")
        const ids = Effect.map(storedRuns, (stored) => stored.map((r) => r["batch_id"])).pipe(Effect.provide(store(project, false)))
        assert.deepStrictEqual(yield* ids, [run(1).batch_id, run(2).batch_id])
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
        // As if the process that moved them in had died before removing the file, and a later apply
        // had been killed in the middle of its line.
        writeFileSync(pendingFile(project), `${waiting}${JSON.stringify(run(3))}\n{"batch_id":"2026`)
        assert.deepStrictEqual(yield* ids, [run(1).batch_id, run(2).batch_id, run(3).batch_id])
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
      })))
})
