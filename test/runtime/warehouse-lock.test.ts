/**
 * The warehouse lock of engines without a local file (WarehouseLock.ts, a row in
 * `_medallion.locks`), on the Databricks stand-in in this process: the row lives exactly as long as
 * the run, whether it succeeds, fails or is interrupted; a second run is refused naming the holder,
 * or waits for it with `wait`; a run longer than the lock's time to live keeps it. The CLI tests
 * (test/databricks/cli.test.ts) cover a held and an expired lock through the command.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option } from "effect"
import { layerFetch } from "../../src/executor/DatabricksExecutor.ts"
import { LockHeld } from "../../src/runtime/Lock.ts"
import { withWarehouseLock } from "../../src/runtime/WarehouseLock.ts"
import { standInOptions, TOKEN, WAREHOUSE } from "../support/databricks/engine.ts"
import { type StandIn, startStandIn } from "../support/databricks/server.ts"

const standIn = Effect.acquireRelease(
  Effect.promise(async () => {
    const s = await startStandIn({ catalog: "lakehouse", warehouseId: WAREHOUSE, token: TOKEN })
    await s.query("CREATE SCHEMA IF NOT EXISTS lakehouse._medallion")
    // The table as the lock creates it, so that a test can put another run's row in first.
    await s.query("CREATE TABLE lakehouse._medallion.locks (name VARCHAR, holder VARCHAR, expires_at BIGINT)")
    return s
  }),
  (s) => Effect.promise(() => s.close())
)

const rows = (s: StandIn) => Effect.promise(() => s.query("SELECT holder, expires_at FROM lakehouse._medallion.locks"))

/** Runs `effect` under the lock on the stand-in. */
const locked = <A, E>(s: StandIn, effect: Effect.Effect<A, E>, options: Partial<Parameters<typeof withWarehouseLock>[0]> = {}) =>
  effect.pipe(withWarehouseLock({ database: "databricks stand-in", command: "medallion apply", ttl: "2 minutes", ...options }), Effect.provide(layerFetch(standInOptions(s))))

const someoneElse = JSON.stringify({ pid: 4242, host: "etl-7", started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply", nonce: "1" })

describe("the warehouse lock on Databricks (a row in _medallion.locks)", () => {
  it.live("holds the row while the run lasts and deletes it after, also when the run fails", () =>
    Effect.gen(function* () {
      const s = yield* standIn
      const during = yield* locked(s, rows(s))
      assert.strictEqual(during.length, 1)
      assert.strictEqual(JSON.parse(String(during[0]!["holder"])).command, "medallion apply")
      assert.deepStrictEqual(yield* rows(s), [], "released after a success")

      const failed = yield* Effect.exit(locked(s, Effect.fail("the run failed")))
      assert.isTrue(Exit.isFailure(failed))
      assert.deepStrictEqual(yield* rows(s), [], "released after a failure")
    }).pipe(Effect.scoped)
  )

  it.live("is released when the run is interrupted", () =>
    Effect.gen(function* () {
      const s = yield* standIn
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(locked(s, Effect.andThen(Deferred.succeed(started, undefined), Effect.never)))
      yield* Deferred.await(started)
      assert.strictEqual((yield* rows(s)).length, 1)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* rows(s), [])
    }).pipe(Effect.scoped)
  )

  it.live("refuses a second run while the lock is held, naming the holder, without running it", () =>
    Effect.gen(function* () {
      const s = yield* standIn
      yield* Effect.promise(() => s.query(`INSERT INTO lakehouse._medallion.locks VALUES ('apply', '${someoneElse}', ${Date.now() + 60_000})`))
      let ran = false
      const exit = yield* Effect.exit(
        locked(
          s,
          Effect.sync(() => (ran = true))
        )
      )
      assert.isFalse(ran)
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(error) && error.value instanceof LockHeld)
      const held = Option.getOrThrow(error) as LockHeld
      assert.include(held.message, "pid 4242 on host etl-7 since 2026-01-01T00:00:00.000Z (medallion apply)")
      assert.include(held.message, "--wait")
      assert.strictEqual((yield* rows(s)).length, 1, "the holder's row is left alone")
    }).pipe(Effect.scoped)
  )

  it.live("with wait, says who it waits for and runs once the holder has let go", () =>
    Effect.gen(function* () {
      const s = yield* standIn
      yield* Effect.promise(() => s.query(`INSERT INTO lakehouse._medallion.locks VALUES ('apply', '${someoneElse}', ${Date.now() + 60_000})`))
      const waiting = yield* Deferred.make<string>()
      const fiber = yield* Effect.forkChild(
        locked(s, rows(s), {
          wait: true,
          pollEvery: "50 millis",
          onWaiting: (held) => Deferred.succeed(waiting, held.holderText)
        })
      )
      assert.strictEqual(yield* Deferred.await(waiting), "pid 4242 on host etl-7 since 2026-01-01T00:00:00.000Z (medallion apply)")
      yield* Effect.sleep("200 millis")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting while the holder holds it")
      yield* Effect.promise(() => s.query("DELETE FROM lakehouse._medallion.locks"))
      const during = yield* Fiber.join(fiber)
      assert.strictEqual(JSON.parse(String(during[0]!["holder"])).pid, process.pid, "then it holds the lock itself")
    }).pipe(Effect.scoped)
  )

  it.live("a run longer than the time to live keeps its lock: it is extended, and others are refused", () =>
    Effect.gen(function* () {
      const s = yield* standIn
      const firstExpiry = yield* Deferred.make<number>()
      const fiber = yield* Effect.forkChild(
        locked(
          s,
          Effect.gen(function* () {
            yield* Deferred.succeed(firstExpiry, Number((yield* rows(s))[0]!["expires_at"]))
            yield* Effect.sleep("3 seconds")
            return Number((yield* rows(s))[0]!["expires_at"])
          }),
          { ttl: "1500 millis" }
        )
      ) // extended every 500 ms
      const first = yield* Deferred.await(firstExpiry)
      yield* Effect.sleep("2 seconds") // past the first expiry
      const second = yield* Effect.exit(locked(s, Effect.void, { command: "medallion apply (second)" }))
      assert.isTrue(Exit.isFailure(second), "a lock that is being extended is not taken over")
      const last = yield* Fiber.join(fiber)
      assert.isAbove(last, first, "the expiry moved on while the run lasted")
      assert.deepStrictEqual(yield* rows(s), [])
    }).pipe(Effect.scoped)
  )
})
