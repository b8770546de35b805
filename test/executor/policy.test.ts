/** Retry schedule with recorded attempts, timeouts (TestClock and a real DuckDB statement), durations. */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor, ExecutorError, QueryFailed, Unavailable } from "../../src/executor/Executor.ts"
import { parseDuration, Timeout, toDuration, withRetries, withTimeout } from "../../src/executor/policy.ts"

const failing = (attempts: Ref.Ref<number>, failFirst: number, reason: () => Unavailable | QueryFailed) =>
  Effect.gen(function* () {
    const n = yield* Ref.updateAndGet(attempts, (a) => a + 1)
    if (n <= failFirst) return yield* new ExecutorError({ statement: "SELECT 1", reason: reason() })
    return n
  })

type Recorded = { readonly attempt: number; readonly tag: string; readonly millis: number }

const recorder = Effect.gen(function* () {
  const log = yield* Ref.make<ReadonlyArray<Recorded>>([])
  const onRetry = (attempt: number, error: unknown, delay: Duration.Duration) =>
    Ref.update(log, (l) => [...l, { attempt, tag: (error as ExecutorError).reason._tag, millis: Duration.toMillis(delay) }])
  return { log, onRetry }
})

describe("withRetries", () => {
  it.effect("retries transient failures, recording each attempt and its delay", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const { log, onRetry } = yield* recorder
      const fiber = yield* Effect.forkChild(
        failing(attempts, 2, () => new Unavailable({ detail: "Could not set lock on file" })).pipe(withRetries({ attempts: 3, initial: "1s", max: "30s", jitter: false }, onRetry))
      )
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Ref.get(attempts), 1) // waiting out the first backoff
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 3)
      assert.deepStrictEqual(yield* Ref.get(log), [
        { attempt: 1, tag: "Unavailable", millis: 1000 },
        { attempt: 2, tag: "Unavailable", millis: 2000 }
      ])
    })
  )

  it.effect("caps exponential delays at max, keeps fixed delays fixed, jitters by default", () =>
    Effect.gen(function* () {
      const run = (retry: Parameters<typeof withRetries>[1]) =>
        Effect.gen(function* () {
          const attempts = yield* Ref.make(0)
          const { log, onRetry } = yield* recorder
          const fiber = yield* Effect.forkChild(failing(attempts, 10, () => new Unavailable({ detail: "busy" })).pipe(withRetries(retry, onRetry), Effect.flip))
          yield* TestClock.adjust("10 minutes")
          yield* Fiber.join(fiber)
          return (yield* Ref.get(log)).map((r) => r.millis)
        })
      assert.deepStrictEqual(yield* run({ attempts: 5, initial: "1s", max: "3s", jitter: false }), [1000, 2000, 3000, 3000])
      assert.deepStrictEqual(yield* run({ attempts: 3, backoff: "fixed", initial: "500ms", jitter: false }), [500, 500])
      const jittered = yield* run(undefined) // 3 attempts, 1 s then 2 s, each ×0.8–1.2
      assert.strictEqual(jittered.length, 2)
      assert.isTrue(jittered[0]! >= 800 && jittered[0]! <= 1200 && jittered[1]! >= 1600 && jittered[1]! <= 2400, String(jittered))
    })
  )

  it.effect("gives up after the configured attempts, recording only the retries that happened", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const { log, onRetry } = yield* recorder
      const fiber = yield* Effect.forkChild(
        failing(attempts, 10, () => new Unavailable({ detail: "busy" })).pipe(withRetries({ attempts: 2, backoff: "fixed", initial: "1s" }, onRetry), Effect.flip)
      )
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.strictEqual(yield* Ref.get(attempts), 2)
      assert.deepStrictEqual(
        (yield* Ref.get(log)).map((r) => r.attempt),
        [1]
      )
    })
  )

  it.effect("does not retry (or record) permanent failures", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const { log, onRetry } = yield* recorder
      const error = yield* failing(attempts, 10, () => new QueryFailed({ detail: "Binder Error" })).pipe(withRetries(undefined, onRetry), Effect.flip)
      assert.strictEqual(error.reason._tag, "QueryFailed")
      assert.strictEqual(yield* Ref.get(attempts), 1)
      assert.deepStrictEqual(yield* Ref.get(log), [])
    })
  )

  it.effect("stops retrying when a retry fails permanently", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const { log, onRetry } = yield* recorder
      const flaky = Effect.gen(function* () {
        const n = yield* Ref.updateAndGet(attempts, (a) => a + 1)
        return yield* new ExecutorError({ statement: "x", reason: n === 1 ? new Unavailable({ detail: "busy" }) : new QueryFailed({ detail: "bad" }) })
      })
      const fiber = yield* Effect.forkChild(flaky.pipe(withRetries({ attempts: 5, jitter: false }, onRetry), Effect.flip))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* Fiber.join(fiber)).reason._tag, "QueryFailed")
      assert.strictEqual(yield* Ref.get(attempts), 2)
      assert.deepStrictEqual(
        (yield* Ref.get(log)).map((r) => r.attempt),
        [1]
      )
    })
  )
})

describe("withTimeout", () => {
  it.effect("fails with Timeout when the limit passes, interrupting the work", () =>
    Effect.gen(function* () {
      const interrupted = yield* Ref.make(false)
      const fiber = yield* Effect.forkChild(
        Effect.never.pipe(
          Effect.onInterrupt(() => Ref.set(interrupted, true)),
          withTimeout("5m", "silver.orders"),
          Effect.flip
        )
      )
      yield* TestClock.adjust("4 minutes")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, Timeout)
      assert.isFalse(error.isRetryable)
      assert.strictEqual(error.message, "silver.orders did not finish within 5m; raise timeout: in the pipeline or table, or look at the slow statement")
      assert.isTrue(yield* Ref.get(interrupted))
    })
  )

  it.effect("leaves fast work and missing limits alone", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* Effect.succeed(1).pipe(withTimeout("1s", "x")), 1)
      assert.strictEqual(yield* Effect.succeed(2).pipe(withTimeout(undefined, "x")), 2)
      assert.strictEqual(yield* Effect.succeed(3).pipe(withTimeout(Duration.seconds(1), "x")), 3)
    })
  )

  it.effect("times out each attempt when inside withRetries", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const slow = Ref.update(attempts, (n) => n + 1).pipe(Effect.andThen(Effect.never))
      const fiber = yield* Effect.forkChild(
        slow.pipe(
          withTimeout("10s", "gold.daily"),
          withRetries({ attempts: 3, jitter: false }, () => Effect.void),
          Effect.flip
        )
      )
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "Timeout")
      assert.strictEqual(yield* Ref.get(attempts), 1) // Timeout is not retryable
    })
  )

  it.live("interrupts a long DuckDB statement within about a second", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      const started = Date.now()
      const [exit, after] = yield* executor.withSession((s) =>
        Effect.gen(function* () {
          const exit = yield* Effect.exit(s.query("SELECT count(*) AS n FROM range(10000000000)").pipe(withTimeout("300ms", "silver.big")))
          // The connection is free again: the statement was interrupted, not left running.
          const after = yield* s.query("SELECT 42 AS answer")
          return [exit, after] as const
        })
      )
      const elapsed = Date.now() - started
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(after, [{ answer: 42 }])
      assert.isTrue(elapsed < 1500, `took ${elapsed} ms`)
      if (Exit.isFailure(exit)) assert.strictEqual(exit.cause.reasons[0]?._tag === "Fail" && exit.cause.reasons[0].error._tag, "Timeout")
    }).pipe(Effect.provide(DuckDbExecutor.layer({ path: ":memory:" }).pipe(Layer.provide(NodeServices.layer), Layer.orDie)))
  )
})

describe("durations", () => {
  it("parses the units pipeline files use", () => {
    const ms = (text: string) => {
      const d = parseDuration(text)
      return d === undefined ? undefined : Duration.toMillis(d)
    }
    assert.strictEqual(ms("500ms"), 500)
    assert.strictEqual(ms("5s"), 5000)
    assert.strictEqual(ms("2m"), 120_000)
    assert.strictEqual(ms("1h"), 3_600_000)
    assert.strictEqual(ms("1 day"), 86_400_000)
    assert.strictEqual(ms("3d"), 3 * 86_400_000)
    assert.strictEqual(ms("30 seconds"), 30_000)
    assert.strictEqual(ms("10 minutes"), 600_000)
    assert.strictEqual(ms("250 millis"), 250)
    assert.strictEqual(ms(" 1.5s "), 1500)
    assert.isUndefined(ms("soon"))
    assert.isUndefined(ms("5 parsecs"))
    assert.isUndefined(ms("-1s"))
    assert.strictEqual(Duration.toMillis(toDuration(undefined, "1 second")), 1000)
    assert.strictEqual(Duration.toMillis(toDuration("2m", "1 second")), 120_000)
  })
})
