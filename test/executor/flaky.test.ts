/** The fault injector: every k-th statement fails transiently before it runs; predicates fail permanently. */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor } from "../../src/executor/Executor.ts"
import * as FlakyExecutor from "../../src/executor/FlakyExecutor.ts"
import { withRetries } from "../../src/executor/policy.ts"

const flaky = (options: FlakyExecutor.FlakyOptions) =>
  FlakyExecutor.layer(options).pipe(Layer.provide(DuckDbExecutor.layer({ path: ":memory:" })), Layer.provide(NodeServices.layer), Layer.orDie)

const outcome = <A>(effect: Effect.Effect<A, { readonly reason: { readonly _tag: string; readonly detail: string } }>) =>
  effect.pipe(
    Effect.map(() => "ok"),
    Effect.catch((e) => Effect.succeed(`${e.reason._tag}: ${e.reason.detail}`))
  )

layer(flaky({ every: 3 }))("FlakyExecutor every 3rd", (it) => {
  it.effect("fails every 3rd statement, counted across sessions, before it runs", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      const results = yield* executor.withSession((s) =>
        Effect.forEach(["CREATE TABLE t (n INTEGER)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (3)"], (sql) => outcome(s.execute(sql)))
      )
      assert.deepStrictEqual(results, ["ok", "ok", "Unavailable: injected transient failure (every 3rd statement)", "ok"])
      // A second session continues the count: statement 5 passes, statement 6 fails. The failed
      // INSERT never ran: nothing half-ran.
      const second = yield* executor.withSession((s) => Effect.all([s.query("SELECT n FROM t ORDER BY n"), outcome(s.query("SELECT 1"))]))
      assert.deepStrictEqual(second, [[{ n: 1 }, { n: 3 }], "Unavailable: injected transient failure (every 3rd statement)"])
    })
  )
})

describe("FlakyExecutor with retries", () => {
  it.live("marks its failures retryable, so the retry policy rides them out", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      const attempts: Array<number> = []
      // Statements 1 and 2 pass, 3 fails and is retried as 4.
      const rows = yield* executor.withSession((s) =>
        Effect.gen(function* () {
          yield* s.query("SELECT 1")
          yield* s.query("SELECT 2")
          return yield* s.query("SELECT 42 AS answer").pipe(withRetries({ attempts: 2, initial: "1ms", jitter: false }, (attempt) => Effect.sync(() => attempts.push(attempt))))
        })
      )
      assert.deepStrictEqual(rows, [{ answer: 42 }])
      assert.deepStrictEqual(attempts, [1])
    }).pipe(Effect.provide(flaky({ every: 3 })))
  )
})

layer(flaky({ failPermanently: (sql) => sql.includes("poison") }))("FlakyExecutor with a predicate", (it) => {
  it.effect("fails matching statements permanently and passes the rest", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      const results = yield* executor.withSession((s) => Effect.forEach(["SELECT 1", "SELECT 'poison'", "SELECT 2"], (sql) => outcome(s.query(sql))))
      assert.deepStrictEqual(results, ["ok", "QueryFailed: injected permanent failure (the statement matched the fault injector)", "ok"])
      const error = yield* Effect.flip(executor.withSession((s) => s.query("SELECT 'poison'")))
      assert.isFalse(error.isRetryable)
    })
  )

  it.effect("leaves transactions, health checks and the engine name alone", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      assert.strictEqual(executor.engine, "duckdb")
      yield* executor.healthCheck
      const n = yield* executor.withSession((s) =>
        s.transaction(Effect.andThen(s.execute("CREATE TABLE u AS SELECT * FROM range(5)"), s.query("SELECT count(*)::INTEGER AS n FROM u")))
      )
      assert.deepStrictEqual(n, [{ n: 5 }])
    })
  )
})

describe("FlakyExecutor every statement", () => {
  layer(flaky({ every: 1 }))("every: 1", (it) => {
    it.effect("fails every statement", () =>
      Effect.gen(function* () {
        const executor = yield* Executor
        const results = yield* executor.withSession((s) => Effect.forEach(["SELECT 1", "SELECT 2"], (sql) => outcome(s.query(sql))))
        assert.deepStrictEqual(results, ["Unavailable: injected transient failure (every statement)", "Unavailable: injected transient failure (every statement)"])
      })
    )
  })
})
