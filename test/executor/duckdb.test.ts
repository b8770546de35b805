/** The embedded DuckDB executor's engine settings, read back from a real (in-memory) database. */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor } from "../../src/executor/Executor.ts"

const setting = (name: string) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const rows = yield* executor.withSession((s) => s.query(`SELECT current_setting('${name}') AS value`))
    return String(rows[0]?.["value"])
  })

const engine = (options: Omit<DuckDbExecutor.DuckDbOptions, "path">) =>
  DuckDbExecutor.layer({ path: ":memory:", ...options }).pipe(Layer.provide(NodeServices.layer))

describe("DuckDbExecutor", () => {
  it.effect("applies threads and memory_limit; with a memory_limit purges freed memory in the background and dedupes with a window that spills", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* setting("threads"), "1")
      assert.strictEqual(yield* setting("memory_limit"), "476.8 MiB")
      assert.strictEqual(yield* setting("allocator_background_threads"), "true")
      assert.strictEqual(yield* setting("disabled_optimizers"), "top_n_window_elimination")
    }).pipe(Effect.provide(engine({ threads: 1, memoryLimit: "500MB" }))))

  it.effect("leaves the allocator and the optimizers alone without a memory_limit", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* setting("allocator_background_threads"), "false")
      assert.strictEqual(yield* setting("disabled_optimizers"), "")
    }).pipe(Effect.provide(engine({}))))
})
