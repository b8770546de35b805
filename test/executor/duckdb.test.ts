/** The embedded DuckDB executor's engine settings, read back from a real (in-memory) database; its catalog lookups. */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Tracer } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor } from "../../src/executor/Executor.ts"
import { columnsOf } from "../../src/runtime/catalog.ts"

const setting = (name: string) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const rows = yield* executor.withSession((s) => s.query(`SELECT current_setting('${name}') AS value`))
    return String(rows[0]?.["value"])
  })

const engine = (options: Omit<DuckDbExecutor.DuckDbOptions, "path">) => DuckDbExecutor.layer({ path: ":memory:", ...options }).pipe(Layer.provide(NodeServices.layer))

describe("DuckDbExecutor", () => {
  it.effect("applies threads and memory_limit; with a memory_limit purges freed memory in the background and dedupes with a window that spills", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* setting("threads"), "1")
      assert.strictEqual(yield* setting("memory_limit"), "476.8 MiB")
      assert.strictEqual(yield* setting("allocator_background_threads"), "true")
      assert.strictEqual(yield* setting("disabled_optimizers"), "top_n_window_elimination")
    }).pipe(Effect.provide(engine({ threads: 1, memoryLimit: "500MB" })))
  )

  it.effect("leaves the allocator and the optimizers alone without a memory_limit", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* setting("allocator_background_threads"), "false")
      assert.strictEqual(yield* setting("disabled_optimizers"), "")
    }).pipe(Effect.provide(engine({})))
  )

  it.effect("reads a table's or view's columns; a missing table or schema has none, also inside a transaction, which still commits", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      yield* executor
        .withSession((s) =>
          Effect.gen(function* () {
            yield* s.execute("CREATE SCHEMA silver")
            yield* s.execute("CREATE TABLE silver.t (id INTEGER, name VARCHAR)")
            yield* s.execute("CREATE VIEW silver.v AS SELECT name FROM silver.t")
            yield* s.transaction(
              Effect.gen(function* () {
                yield* s.execute("INSERT INTO silver.t VALUES (1, 'a')")
                assert.deepStrictEqual(yield* columnsOf(s, "silver", "missing"), [])
                assert.deepStrictEqual(yield* columnsOf(s, "gold", "missing"), [])
                yield* s.execute("INSERT INTO silver.t VALUES (2, 'b')")
              })
            )
            assert.deepStrictEqual(yield* columnsOf(s, "silver", "t"), [
              { name: "id", type: "INTEGER" },
              { name: "name", type: "VARCHAR" }
            ])
            assert.deepStrictEqual(yield* columnsOf(s, "silver", "v"), [{ name: "name", type: "VARCHAR" }])
            assert.deepStrictEqual(yield* s.query("SELECT count(*)::INTEGER AS n FROM silver.t"), [{ n: 2 }])
          })
        )
        .pipe(Effect.withTracer(tracer))
      // The lookup of a missing table fails, as expected: its span is no error.
      const probes = spans.filter((span) => span.attributes.get("medallion.expected_failure") === true)
      assert.strictEqual(probes.length, 2)
      assert.deepStrictEqual(
        spans.filter((span) => span.status._tag === "Ended" && Exit.isFailure(span.status.exit)).map((span) => span.name),
        []
      )
    }).pipe(Effect.provide(engine({})))
  )
})
