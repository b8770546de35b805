/** The retry policy: transient executor errors are retried with backoff, permanent ones are not. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { ExecutorError, QueryFailed, Unavailable } from "../../src/executor/Executor.ts"
import { retrySchedule as retryPolicy } from "../../src/executor/policy.ts"

const failing = (attempts: Ref.Ref<number>, failFirst: number, reason: () => Unavailable | QueryFailed) =>
  Effect.gen(function* () {
    const n = yield* Ref.updateAndGet(attempts, (a) => a + 1)
    if (n <= failFirst) return yield* new ExecutorError({ statement: "SELECT 1", reason: reason() })
    return n
  })

describe("retryPolicy", () => {
  it.effect("retries transient failures with backoff until one succeeds", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const fiber = yield* Effect.forkChild(
        failing(attempts, 2, () => new Unavailable({ detail: "Could not set lock on file" })).pipe(Effect.retry(retryPolicy({ attempts: 3, initial: "1s", max: "30s" })))
      )
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Ref.get(attempts), 1) // still waiting for the first backoff
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 3)
    })
  )

  it.effect("gives up after the configured attempts", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const fiber = yield* Effect.forkChild(
        failing(attempts, 10, () => new Unavailable({ detail: "busy" })).pipe(Effect.retry(retryPolicy({ attempts: 2, backoff: "fixed", initial: "1s" })), Effect.flip)
      )
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.strictEqual(yield* Ref.get(attempts), 2)
    })
  )

  it.effect("does not retry permanent failures", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const error = yield* failing(attempts, 10, () => new QueryFailed({ detail: "Binder Error" })).pipe(Effect.retry(retryPolicy(undefined)), Effect.flip)
      assert.strictEqual(error.reason._tag, "QueryFailed")
      assert.strictEqual(yield* Ref.get(attempts), 1)
    })
  )
})
