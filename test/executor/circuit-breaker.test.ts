/** The circuit breaker: opens on transient failures, fails fast, half-opens after the cooldown on the TestClock. */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Logger, Ref } from "effect"
import { TestClock } from "effect/testing"
import { duckdb } from "../../src/compile/duckdb.ts"
import * as CircuitBreaker from "../../src/executor/CircuitBreaker.ts"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor, ExecutorError, QueryFailed, type Session, Unavailable } from "../../src/executor/Executor.ts"
import * as FlakyExecutor from "../../src/executor/FlakyExecutor.ts"

/**
 * A scripted engine: "ok" succeeds, "down" fails transiently, "bad" fails permanently, "slow"
 * succeeds after 1 s. Counts the statements that reached it.
 */
const scripted = (reached: Ref.Ref<number>) => {
  const run = (sql: string) =>
    Effect.gen(function* () {
      yield* Ref.update(reached, (n) => n + 1)
      if (sql === "down") return yield* new ExecutorError({ statement: sql, reason: new Unavailable({ detail: "Could not set lock on file" }) })
      if (sql === "bad") return yield* new ExecutorError({ statement: sql, reason: new QueryFailed({ detail: "Binder Error" }) })
      if (sql === "slow") yield* Effect.sleep("1 second")
      return [{ sql }]
    })
  const session: Session = { execute: (sql) => Effect.as(run(sql), 1), query: run, transaction: (effect) => effect }
  return Layer.succeed(Executor, Executor.of({ engine: "scripted", dialect: duckdb, withSession: (use) => use(session), healthCheck: Effect.void }))
}

/** Runs `sql` through the breaker; returns "ok" or the failure's reason tag. */
const statement = (sql: string) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    return yield* executor
      .withSession((s) => s.query(sql))
      .pipe(
        Effect.as("ok"),
        Effect.catchTag("ExecutorError", (e) => Effect.succeed(e.reason._tag))
      )
  })
const statements = (...sqls: ReadonlyArray<string>) => Effect.forEach(sqls, statement)

const withBreaker = <A, E>(use: (reached: Ref.Ref<number>) => Effect.Effect<A, E, Executor>) =>
  Effect.gen(function* () {
    const reached = yield* Ref.make(0)
    return yield* use(reached).pipe(Effect.provide(CircuitBreaker.layer({ failureThreshold: 3, cooldown: "30 seconds" }).pipe(Layer.provide(scripted(reached)))))
  })

describe("CircuitBreaker", () => {
  it.effect("opens after N transient failures in a row and then fails fast", () =>
    withBreaker((reached) =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* statements("down", "down", "down"), ["Unavailable", "Unavailable", "Unavailable"])
        const executor = yield* Executor
        const error = yield* Effect.flip(executor.withSession((s) => s.execute("ok")))
        assert.strictEqual(error.reason._tag, "CircuitOpen")
        assert.isFalse(error.isRetryable)
        assert.strictEqual(error.reason.detail, "the executor failed 3 times in a row; not sending more statements for 30s; the engine may be down: check it, then re-run")
        assert.strictEqual(yield* Ref.get(reached), 3) // the fourth never reached the engine
      })
    )
  )

  it.effect("resets the count on a success", () =>
    withBreaker((reached) =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* statements("down", "down", "ok", "down", "down", "ok"), ["Unavailable", "Unavailable", "ok", "Unavailable", "Unavailable", "ok"])
        assert.strictEqual(yield* Ref.get(reached), 6)
      })
    )
  )

  it.effect("ignores permanent errors: they neither count nor reset", () =>
    withBreaker(() =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* statements("bad", "bad", "bad", "bad", "ok"), ["QueryFailed", "QueryFailed", "QueryFailed", "QueryFailed", "ok"])
        assert.deepStrictEqual(yield* statements("down", "down", "bad", "down", "ok"), ["Unavailable", "Unavailable", "QueryFailed", "Unavailable", "CircuitOpen"])
      })
    )
  )

  it.effect("half-opens after the cooldown and closes on a successful trial", () =>
    withBreaker((reached) =>
      Effect.gen(function* () {
        yield* statements("down", "down", "down")
        yield* TestClock.adjust("29 seconds")
        assert.strictEqual(yield* statement("ok"), "CircuitOpen")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* statement("ok"), "ok") // the trial
        assert.strictEqual(yield* Ref.get(reached), 4)
        // Closed again, with a fresh count: two failures do not open it.
        assert.deepStrictEqual(yield* statements("down", "down", "ok"), ["Unavailable", "Unavailable", "ok"])
      })
    )
  )

  it.effect("re-opens on a failed trial for another cooldown", () =>
    withBreaker((reached) =>
      Effect.gen(function* () {
        yield* statements("down", "down", "down")
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(yield* statement("down"), "Unavailable") // the trial reached the engine and failed
        const executor = yield* Executor
        const error = yield* Effect.flip(executor.withSession((s) => s.query("ok")))
        assert.match(error.reason.detail, /failed 4 times in a row; not sending more statements for 30s/)
        assert.strictEqual(yield* Ref.get(reached), 4)
        yield* TestClock.adjust("30 seconds")
        assert.deepStrictEqual(yield* statements("ok", "ok"), ["ok", "ok"])
      })
    )
  )

  it.effect("lets only one trial through; a permanent failure or interruption frees the trial for the next statement", () =>
    withBreaker((reached) =>
      Effect.gen(function* () {
        yield* statements("down", "down", "down")
        yield* TestClock.adjust("30 seconds")
        const trial = yield* Effect.forkChild(statement("slow"))
        yield* Effect.yieldNow
        assert.strictEqual(yield* statement("ok"), "CircuitOpen") // the trial is still running
        yield* Fiber.interrupt(trial)
        assert.strictEqual(yield* statement("bad"), "QueryFailed") // the next trial: the engine answered, still half-open
        assert.strictEqual(yield* statement("ok"), "ok") // and the one after closes it
        assert.strictEqual(yield* Ref.get(reached), 6)
      })
    )
  )

  it.effect("logs state changes and annotates the current span", () =>
    Effect.gen(function* () {
      const logs: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        logs.push(`${logLevel}: ${String(Array.isArray(message) ? message[0] : message)}`)
      })
      const span = yield* withBreaker(() =>
        Effect.gen(function* () {
          yield* statements("down", "down", "down")
          yield* TestClock.adjust("30 seconds")
          yield* statement("ok")
          return yield* Effect.currentSpan
        })
      ).pipe(Effect.withSpan("medallion.table"), Effect.provide(Logger.layer([capture, Logger.tracerLogger])))
      assert.deepStrictEqual(logs, [
        "Warn: circuit opened after 3 transient failures in a row; statements fail fast for 30s",
        "Warn: circuit half-open: letting one trial statement through",
        "Info: circuit closed: the trial statement succeeded"
      ])
      assert.strictEqual(span.attributes.get("medallion.circuit.state"), "Closed")
      // Effect's default tracer logger turns the logs into events on the span (the native span keeps them).
      const events = (span as unknown as { events: ReadonlyArray<readonly [string, bigint, Record<string, unknown>]> }).events
      assert.deepStrictEqual(
        events.map(([name, , attributes]) => [name, attributes["medallion.circuit.event"]]),
        [
          ["circuit opened after 3 transient failures in a row; statements fail fast for 30s", "opened"],
          ["circuit half-open: letting one trial statement through", "half-open"],
          ["circuit closed: the trial statement succeeded", "closed"]
        ]
      )
    })
  )

  it.effect("stacks on a real DuckDB executor, with the fault injector under it", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      const run = (sql: string) =>
        executor
          .withSession((s) => s.query(sql))
          .pipe(
            Effect.map((rows) => rows[0]?.["n"]),
            Effect.catchTag("ExecutorError", (e) => Effect.succeed(e.reason._tag))
          )
      // Every 2nd statement fails transiently; one failure opens the circuit.
      assert.strictEqual(yield* run("SELECT 1 AS n"), 1)
      assert.strictEqual(yield* run("SELECT 2 AS n"), "Unavailable")
      assert.strictEqual(yield* run("SELECT 3 AS n"), "CircuitOpen") // failed fast: the injector did not count it
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* run("SELECT 3 AS n"), 3) // the trial is statement 3 for the injector: it passes
      assert.strictEqual(yield* run("SELECT 4 AS n"), "Unavailable")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* run("SELECT 5 AS n"), 5)
    }).pipe(
      Effect.provide(
        CircuitBreaker.layer({ failureThreshold: 1, cooldown: "10 seconds" }).pipe(
          Layer.provide(FlakyExecutor.layer({ every: 2 })),
          Layer.provide(DuckDbExecutor.layer({ path: ":memory:" })),
          Layer.provide(NodeServices.layer),
          Layer.orDie
        )
      )
    )
  )
})
