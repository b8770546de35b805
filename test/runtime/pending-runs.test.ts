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
import { aroundStatements, decorator, Executor, ExecutorError, QueryFailed } from "../../src/executor/Executor.ts"
import { MetadataStore, type RunRecord, type TableRecord } from "../../src/metadata/MetadataStore.ts"
import * as PendingRuns from "../../src/metadata/PendingRuns.ts"
import * as SqlMetadataStore from "../../src/metadata/SqlMetadataStore.ts"
import { makeProject, rows, type TestProject } from "../support/project.ts"

const warehouse = (project: TestProject) => join(project.dir, ".medallion", "warehouse.duckdb")
const pendingFile = (project: TestProject) => `${warehouse(project)}.pending-runs.jsonl`

/** The store as `medallion apply` (defer) or any other command (no defer) opens it. */
const store = (project: TestProject, deferNoOpRuns: boolean) =>
  Layer.unwrap(Effect.map(PendingRuns.make(warehouse(project)), (pendingRuns) => SqlMetadataStore.layerWith({ migrate: true, pendingRuns, deferNoOpRuns }))).pipe(
    Layer.provideMerge(DuckDbExecutor.layer({ path: warehouse(project), threads: 1 })),
    Layer.provideMerge(NodeServices.layer)
  )

/**
 * The store of an apply over a warehouse that refuses writes to the history while `full.on` (what
 * DuckDB says when the disk is full); test/e2e/history.test.ts fills a real disk.
 */
const fullDisk = (project: TestProject, full: { on: boolean }) =>
  Layer.unwrap(Effect.map(PendingRuns.make(warehouse(project)), (pendingRuns) => SqlMetadataStore.layerWith({ migrate: true, pendingRuns, deferNoOpRuns: true }))).pipe(
    Layer.provideMerge(
      decorator((inner) =>
        Effect.succeed(
          aroundStatements(inner, (sql, statement) =>
            full.on && /^(INSERT|UPDATE)/.test(sql)
              ? Effect.fail(
                  new ExecutorError({ statement: "COMMIT", reason: new QueryFailed({ detail: `Could not write file "${warehouse(project)}.wal": No space left on device` }) })
                )
              : statement
          )
        )
      )
    ),
    Layer.provideMerge(DuckDbExecutor.layer({ path: warehouse(project), threads: 1 })),
    Layer.provideMerge(NodeServices.layer)
  )

const run = (n: number, unchanged: ReadonlyArray<string> = ["gold.a"]): RunRecord => ({
  batch_id: `20261127T0000${String(n).padStart(2, "0")}000Z-0000000${n % 10}`,
  pipelines: ["shop"],
  env: "test",
  engine: "duckdb",
  started_at: `2026-11-27T00:00:${String(n).padStart(2, "0")}.000Z`,
  finished_at: `2026-11-27T00:00:${String(n).padStart(2, "0")}.500Z`,
  status: "succeeded",
  records_in: 0,
  records_out: 0,
  duration_seconds: 0.5,
  errors: 0,
  success_rate: 1,
  throughput: 0,
  unchanged_tables: unchanged
})

const failedTable: TableRecord = {
  table: "gold.a",
  pipeline: "shop",
  layer: "gold",
  mode: "replace",
  status: "failed",
  reason: null,
  error: "boom",
  rows_in: 0,
  rows_out: 0,
  quarantined: 0,
  dropped: 0,
  duplicates: 0,
  rejected: 0,
  dropped_by_reason: {},
  expectations: [],
  duration_seconds: 0,
  accounting_ok: true,
  attempts: 1
}

const storedRuns = rows(`SELECT batch_id, status, unchanged_tables FROM _medallion.runs ORDER BY batch_id`)
const pendingIds = (project: TestProject) =>
  readFileSync(pendingFile(project), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as RunRecord).batch_id)

/** Runs `body` on a fresh project; the store layers are provided by the body, one per "process". */
const inFreshProject = <A, E>(body: (project: TestProject) => Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    const project = makeProject()
    return body(project).pipe(Effect.ensuring(Effect.sync(project.remove)))
  })

describe("pending runs", () => {
  it.effect("an apply keeps a run that found nothing to do beside the warehouse; the next run written takes it in", () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        yield* Effect.gen(function* () {
          const s = yield* MetadataStore
          yield* s.finishRun(run(1), [], false)
          yield* s.finishRun(run(2), [], false)
          assert.deepStrictEqual(yield* storedRuns, [])
          assert.deepStrictEqual(pendingIds(project), [run(1).batch_id, run(2).batch_id])
          // A run that started writing is recorded in the warehouse, with the ones waiting, in one transaction.
          yield* s.startRun({ ...run(3), status: "running", finished_at: null })
          yield* s.finishRun(run(3, []), [], true)
          assert.deepStrictEqual(
            (yield* storedRuns).map((r) => [r["batch_id"], r["status"], r["unchanged_tables"]]),
            [
              [run(1).batch_id, "succeeded", "gold.a"],
              [run(2).batch_id, "succeeded", "gold.a"],
              [run(3).batch_id, "succeeded", ""]
            ]
          )
        }).pipe(Effect.provide(store(project, true)))
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
      })
    )
  )

  it.effect("a failed or cancelled run is written at once, even by an apply", () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        const s = yield* MetadataStore
        yield* s.finishRun({ ...run(1), status: "failed", errors: 1 }, [failedTable], false)
        yield* s.finishRun({ ...run(2), status: "cancelled" }, [], false)
        assert.deepStrictEqual(
          (yield* storedRuns).map((r) => r["status"]),
          ["failed", "cancelled"]
        )
      }).pipe(Effect.provide(store(project, true)))
    )
  )

  it.effect(`at most ${SqlMetadataStore.pendingLimit} runs wait: the next is written with them`, () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        const s = yield* MetadataStore
        for (let n = 1; n <= SqlMetadataStore.pendingLimit; n++) yield* s.finishRun(run(n), [], false)
        assert.strictEqual(pendingIds(project).length, SqlMetadataStore.pendingLimit)
        assert.deepStrictEqual(yield* storedRuns, [])
        yield* s.finishRun(run(SqlMetadataStore.pendingLimit + 1), [], false)
        assert.strictEqual((yield* storedRuns).length, SqlMetadataStore.pendingLimit + 1)
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
      }).pipe(Effect.provide(store(project, true)))
    )
  )

  it.effect("a pending-runs file that cannot be used fails nothing: the run is written into the warehouse, with a warning", () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        mkdirSync(pendingFile(project), { recursive: true })
        const warnings: Array<string> = []
        const capture = Logger.layer([
          Logger.make(({ logLevel, message }) => {
            if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message.join(" ") : message))
          })
        ])
        yield* Effect.flatMap(MetadataStore, (s) => s.finishRun(run(1), [], false)).pipe(Effect.provide(Layer.merge(store(project, true), capture)))
        assert.deepStrictEqual(
          (yield* storedRuns.pipe(Effect.provide(store(project, true)))).map((r) => r["batch_id"]),
          [run(1).batch_id]
        )
        assert.isTrue(
          warnings.some((w) => w.includes(`cannot keep run ${run(1).batch_id} here`) && w.includes("written into the warehouse instead")),
          warnings.join("\n")
        )
      })
    )
  )

  it.effect("a run the warehouse cannot take waits beside it with its tables; the next command that writes takes it in place of its running row", () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        const full = { on: false }
        const failed = { ...run(1), status: "failed" as const, errors: 1 }
        const published: TableRecord = { ...failedTable, table: "bronze.a", layer: "bronze", status: "succeeded", error: null, rows_in: 3, rows_out: 3 }
        yield* Effect.gen(function* () {
          const s = yield* MetadataStore
          yield* s.startRun({ ...failed, status: "running", finished_at: null })
          // The table that published was recorded then; the one that failed is recorded with the run.
          yield* (yield* Executor).withSession((session) => s.recordTable(session, failed.batch_id, published))
          full.on = true
          yield* s.finishRun(failed, [failedTable], true)
        }).pipe(Effect.provide(fullDisk(project, full)))
        const waiting = readFileSync(pendingFile(project), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { batch_id: string; status: string; tables: ReadonlyArray<TableRecord> })
        assert.deepStrictEqual(
          waiting.map((r) => [r.batch_id, r.status, r.tables.map((t) => t.table)]),
          [[failed.batch_id, "failed", ["gold.a"]]]
        )

        // The next apply, though it finds nothing to do, writes it at once (with itself), in place of its running row.
        const written = yield* Effect.flatMap(MetadataStore, (s) => Effect.andThen(s.finishRun(run(2), [], false), storedRuns)).pipe(Effect.provide(store(project, true)))
        assert.deepStrictEqual(
          written.map((r) => [r["batch_id"], r["status"]]),
          [
            [failed.batch_id, "failed"],
            [run(2).batch_id, "succeeded"]
          ]
        )
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
        const history = yield* Effect.gen(function* () {
          const s = yield* MetadataStore
          return { runs: yield* storedRuns, tables: (yield* s.runTables(failed.batch_id)).map((t) => [t.table, t.status, t.rows_in]) }
        }).pipe(Effect.provide(store(project, false)))
        assert.deepStrictEqual(history, {
          runs: [
            { batch_id: failed.batch_id, status: "failed", unchanged_tables: "gold.a" },
            { batch_id: run(2).batch_id, status: "succeeded", unchanged_tables: "gold.a" }
          ],
          tables: [
            ["bronze.a", "succeeded", 3],
            ["gold.a", "failed", 0]
          ]
        })
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
      })
    )
  )

  it.effect("a run that can be written neither into the warehouse nor beside it fails with an error naming it and both causes", () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        mkdirSync(pendingFile(project), { recursive: true })
        const error = yield* Effect.flatMap(MetadataStore, (s) => s.finishRun({ ...run(1), status: "failed", errors: 1 }, [failedTable], false)).pipe(
          Effect.provide(fullDisk(project, { on: true })),
          Effect.flip
        )
        assert.strictEqual(error._tag, "HistoryNotWritten")
        assert.include(error.message, `the history of run ${run(1).batch_id} (failed) could not be written into the warehouse: `)
        assert.include(error.message, "No space left on device")
        assert.include(error.message, `nor kept beside it: ${pendingFile(project)}: cannot keep run ${run(1).batch_id} here (`)
        assert.include(error.message, "It will not appear in medallion runs")
      })
    )
  )

  it.effect("a history reader marks runs left running crashed as it opens the store, with the totals of the tables they recorded", () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        const dead = { ...run(1), status: "running" as const, finished_at: null, unchanged_tables: [] }
        const published: TableRecord = { ...failedTable, status: "succeeded", error: null, rows_in: 5, rows_out: 4, quarantined: 1 }
        // As an apply killed after one table published leaves it.
        yield* Effect.gen(function* () {
          const s = yield* MetadataStore
          yield* s.startRun(dead)
          yield* (yield* Executor).withSession((session) => s.recordTable(session, dead.batch_id, published))
        }).pipe(Effect.provide(store(project, true)))
        const stored = yield* rows("SELECT status, records_in::INTEGER AS i, records_out::INTEGER AS o, errors::INTEGER AS e, success_rate FROM _medallion.runs").pipe(
          Effect.provide(store(project, false))
        )
        assert.deepStrictEqual(stored, [{ status: "crashed", i: 5, o: 4, e: 0, success_rate: 0.8 }])
      })
    )
  )

  it.effect("any other command moves them in when it opens the store, never twice, skipping a line cut short", () =>
    inFreshProject((project) =>
      Effect.gen(function* () {
        yield* Effect.flatMap(MetadataStore, (s) => Effect.andThen(s.finishRun(run(1), [], false), s.finishRun(run(2), [], false))).pipe(Effect.provide(store(project, true)))
        const waiting = readFileSync(pendingFile(project), "utf8")
        const ids = Effect.map(storedRuns, (stored) => stored.map((r) => r["batch_id"])).pipe(Effect.provide(store(project, false)))
        assert.deepStrictEqual(yield* ids, [run(1).batch_id, run(2).batch_id])
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
        // As if the process that moved them in had died before removing the file, and a later apply
        // had been killed in the middle of its line.
        writeFileSync(pendingFile(project), `${waiting}${JSON.stringify(run(3))}\n{"batch_id":"2026`)
        assert.deepStrictEqual(yield* ids, [run(1).batch_id, run(2).batch_id, run(3).batch_id])
        assert.throws(() => readFileSync(pendingFile(project)), /ENOENT/)
      })
    )
  )
})
