/**
 * The scheduler and the run coordinator on TestClock, with a fake run (no engine): cron firing in a
 * time zone, no overlap with the previous run (skipped and recorded), the missed-run policy, and
 * graceful shutdown (finish within the grace period, else cancel; refuse new runs meanwhile).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, type Duration, Effect, Exit, Fiber, Layer, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Coordinator from "../../src/runtime/RunCoordinator.ts"
import { RunCoordinator, type RunRequest } from "../../src/runtime/RunCoordinator.ts"
import * as SchedulerLive from "../../src/runtime/Scheduler.ts"
import { type ScheduleSpec, Scheduler } from "../../src/runtime/Scheduler.ts"

const minute = 60_000

interface Started {
  readonly pipeline: string
  readonly trigger: RunRequest["trigger"]
  readonly at: number
  readonly batchId: string
}

/**
 * A coordinator whose runs take `duration` of (test) time and are recorded. The grace period is
 * zero unless a test is about shutdown: a run still going when a test ends is then cancelled at
 * once instead of waiting for a TestClock that no one moves.
 */
const fakeRuns = (duration: Duration.Input, grace: Duration.Input = 0) =>
  Effect.gen(function* () {
    const started = yield* Ref.make<ReadonlyArray<Started>>([])
    const finished = yield* Ref.make<ReadonlyArray<string>>([])
    const interrupted = yield* Ref.make<ReadonlyArray<string>>([])
    const layer = Coordinator.layer({
      grace,
      run: (request, batchId) =>
        Effect.gen(function* () {
          const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
          yield* Ref.update(started, (s) => [...s, { pipeline: request.pipeline, trigger: request.trigger, at, batchId }])
          yield* Effect.sleep(duration)
          yield* Ref.update(finished, (s) => [...s, batchId])
        }).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (s) => [...s, batchId])))
    })
    return { layer, started, finished, interrupted }
  })

const withScheduler = (
  specs: ReadonlyArray<ScheduleSpec>,
  coordinator: Layer.Layer<RunCoordinator>,
  lastStarted: (pipeline: string) => Effect.Effect<number | undefined> = () => Effect.succeed(Date.UTC(2100, 0, 1))
) => SchedulerLive.layer({ schedules: specs, lastStarted }).pipe(Layer.provideMerge(coordinator))

describe("Scheduler", () => {
  it.effect("fires on the cron schedule in its time zone", () =>
    Effect.gen(function* () {
      const runs = yield* fakeRuns("1 second")
      const scope = yield* Scope.fork(yield* Effect.scope)
      // 03:00 in Berlin; TestClock starts at 1970-01-01T00:00Z, which is 01:00 there (UTC+1 in winter).
      const context = yield* Layer.buildWithScope(withScheduler([{ pipeline: "shop", cron: "0 3 * * *", timezone: "Europe/Berlin" }], runs.layer), scope)
      const scheduler = context.mapUnsafe.get(Scheduler.key) as Scheduler["Service"]
      assert.strictEqual((yield* scheduler.info("shop"))!.nextRun, "1970-01-01T02:00:00.000Z")
      yield* TestClock.adjust("119 minutes")
      assert.strictEqual((yield* Ref.get(runs.started)).length, 0)
      yield* TestClock.adjust("1 minute")
      const first = yield* Ref.get(runs.started)
      assert.deepStrictEqual(
        first.map((s) => [s.pipeline, s.trigger, s.at]),
        [["shop", "schedule", 2 * 60 * minute]]
      )
      assert.strictEqual((yield* scheduler.info("shop"))!.nextRun, "1970-01-02T02:00:00.000Z")
      yield* TestClock.adjust("2 days")
      assert.deepStrictEqual(
        (yield* Ref.get(runs.started)).map((s) => new Date(s.at).toISOString()),
        ["1970-01-01T02:00:00.000Z", "1970-01-02T02:00:00.000Z", "1970-01-03T02:00:00.000Z"]
      )
      const recent = (yield* scheduler.info("shop"))!.recent
      assert.strictEqual(recent.length, 3)
      assert.isTrue(recent.every((e) => e.outcome === "submitted" && e.batchId !== undefined))
      assert.strictEqual(yield* scheduler.info("other"), undefined)
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("reads a schedule without a time zone, or with UTC, in UTC", () =>
    Effect.gen(function* () {
      for (const timezone of [undefined, "UTC"]) {
        const runs = yield* fakeRuns("1 second")
        const scope = yield* Scope.fork(yield* Effect.scope)
        const context = yield* Layer.buildWithScope(withScheduler([{ pipeline: "shop", cron: "30 3 * * *", timezone }], runs.layer), scope)
        const scheduler = context.mapUnsafe.get(Scheduler.key) as Scheduler["Service"]
        assert.strictEqual((yield* scheduler.info("shop"))!.nextRun, "1970-01-01T03:30:00.000Z")
        yield* Scope.close(scope, Exit.void)
      }
    })
  )

  it.effect("skips a firing while the pipeline's previous run is still going, and records why", () =>
    Effect.gen(function* () {
      const runs = yield* fakeRuns("12 minutes")
      const scope = yield* Scope.fork(yield* Effect.scope)
      const context = yield* Layer.buildWithScope(withScheduler([{ pipeline: "shop", cron: "*/5 * * * *" }], runs.layer), scope)
      const scheduler = context.mapUnsafe.get(Scheduler.key) as Scheduler["Service"]
      yield* TestClock.adjust("26 minutes")
      const recent = [...(yield* scheduler.info("shop"))!.recent].reverse()
      // 00:05 runs until 00:17, so 00:10 and 00:15 are skipped; 00:20 runs until 00:32, so 00:25 is skipped.
      assert.deepStrictEqual(
        recent.map((e) => [e.scheduledFor.slice(11, 16), e.outcome]),
        [
          ["00:05", "submitted"],
          ["00:10", "skipped"],
          ["00:15", "skipped"],
          ["00:20", "submitted"],
          ["00:25", "skipped"]
        ]
      )
      assert.match(recent[1]!.reason!, /pipeline shop is already running \(run .+\)/)
      assert.strictEqual(recent[1]!.batchId, undefined)
      assert.strictEqual(recent[0]!.batchId, (yield* Ref.get(runs.started))[0]!.batchId)
      assert.deepStrictEqual(
        (yield* Ref.get(runs.started)).map((s) => s.at / minute),
        [5, 20]
      )
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("queues firings of different pipelines one after another (one writer)", () =>
    Effect.gen(function* () {
      const runs = yield* fakeRuns("12 minutes")
      const scope = yield* Scope.fork(yield* Effect.scope)
      const context = yield* Layer.buildWithScope(
        withScheduler(
          [
            { pipeline: "shop", cron: "*/5 * * * *" },
            { pipeline: "other", cron: "*/5 * * * *" }
          ],
          runs.layer
        ),
        scope
      )
      const scheduler = context.mapUnsafe.get(Scheduler.key) as Scheduler["Service"]
      yield* TestClock.adjust("30 minutes")
      // shop 00:05-00:17, other (queued at 00:05) 00:17-00:29, shop (queued at 00:20) from 00:29.
      assert.deepStrictEqual(
        (yield* Ref.get(runs.started)).map((s) => [s.pipeline, s.at / minute]),
        [
          ["shop", 5],
          ["other", 17],
          ["shop", 29]
        ]
      )
      const other = [...(yield* scheduler.info("other"))!.recent].reverse()
      assert.deepStrictEqual(
        other.map((e) => e.outcome),
        ["submitted", "skipped", "skipped", "skipped", "skipped", "submitted"]
      )
      assert.match(other[1]!.reason!, /pipeline other is already queued/)
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("runs a missed schedule once at start when catch_up is set, and not otherwise", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 0, 10, 12, 30))
      const hourly = "0 * * * *"
      const case_ = (spec: Omit<ScheduleSpec, "cron">, last: number | undefined) =>
        Effect.gen(function* () {
          const runs = yield* fakeRuns("1 second")
          const scope = yield* Scope.fork(yield* Effect.scope)
          yield* Layer.buildWithScope(
            withScheduler([{ ...spec, cron: hourly }], runs.layer, () => Effect.succeed(last)),
            scope
          )
          yield* TestClock.adjust("10 seconds")
          const started = yield* Ref.get(runs.started)
          yield* Scope.close(scope, Exit.void)
          return started.map((s) => s.trigger)
        })
      // The 12:00 run was missed (the last run started at 11:00).
      assert.deepStrictEqual(yield* case_({ pipeline: "a", catchUp: true }, Date.UTC(2026, 0, 10, 11, 0)), ["catch-up"])
      // Never ran: that counts as missed.
      assert.deepStrictEqual(yield* case_({ pipeline: "b", catchUp: true }, undefined), ["catch-up"])
      // Ran after 12:00: nothing missed.
      assert.deepStrictEqual(yield* case_({ pipeline: "c", catchUp: true }, Date.UTC(2026, 0, 10, 12, 1)), [])
      // Missed, but catch_up is off.
      assert.deepStrictEqual(yield* case_({ pipeline: "d" }, Date.UTC(2026, 0, 10, 11, 0)), [])
      assert.deepStrictEqual(yield* case_({ pipeline: "e", catchUp: false }, undefined), [])
    })
  )

  it.effect("records the missed time of a catch-up run", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 0, 10, 12, 30))
      const runs = yield* fakeRuns("1 second")
      const scope = yield* Scope.fork(yield* Effect.scope)
      const context = yield* Layer.buildWithScope(
        withScheduler([{ pipeline: "a", cron: "0 * * * *", catchUp: true }], runs.layer, () => Effect.succeed(undefined)),
        scope
      )
      const info = (yield* (context.mapUnsafe.get(Scheduler.key) as Scheduler["Service"]).info("a"))!
      assert.strictEqual(info.recent[0]!.trigger, "catch-up")
      assert.strictEqual(info.recent[0]!.scheduledFor, "2026-01-10T12:00:00.000Z")
      assert.include(info.recent[0]!.reason!, "last run never")
      assert.strictEqual(info.nextRun, "2026-01-10T13:00:00.000Z")
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("refuses a bad cron or time zone, naming the pipeline", () =>
    Effect.gen(function* () {
      const runs = yield* fakeRuns("1 second")
      const bad = yield* Effect.flip(Effect.scoped(Layer.build(withScheduler([{ pipeline: "shop", cron: "61 * * * *" }], runs.layer))))
      assert.strictEqual(bad._tag, "ScheduleError")
      assert.include(bad.message, 'pipeline shop: invalid cron "61 * * * *"')
      const zone = yield* Effect.flip(Effect.scoped(Layer.build(withScheduler([{ pipeline: "shop", cron: "0 * * * *", timezone: "Mars/Olympus" }], runs.layer))))
      assert.include(zone.message, 'unknown time zone "Mars/Olympus"')
    })
  )
})

describe("RunCoordinator", () => {
  it.effect("refuses a second run of a pipeline that is queued or running, and runs pipelines one at a time", () =>
    Effect.gen(function* () {
      const runs = yield* fakeRuns("10 minutes")
      const scope = yield* Scope.fork(yield* Effect.scope)
      const context = yield* Layer.buildWithScope(runs.layer, scope)
      const coordinator = context.mapUnsafe.get(RunCoordinator.key) as RunCoordinator["Service"]
      const a = yield* coordinator.submit({ pipeline: "a", trigger: "api" })
      const b = yield* coordinator.submit({ pipeline: "b", trigger: "api" })
      yield* TestClock.adjust("1 second")
      const again = yield* Effect.flip(coordinator.submit({ pipeline: "a", trigger: "schedule" }))
      assert.strictEqual(again._tag, "RunInProgress")
      assert.strictEqual((again as Coordinator.RunInProgress).batchId, a.batchId)
      const queued = yield* Effect.flip(coordinator.submit({ pipeline: "b", trigger: "api" }))
      assert.strictEqual((queued as Coordinator.RunInProgress).state, "queued")
      assert.deepStrictEqual(
        (yield* coordinator.active).map((r) => [r.pipeline, r.state]),
        [
          ["a", "running"],
          ["b", "queued"]
        ]
      )
      yield* TestClock.adjust("10 minutes")
      assert.deepStrictEqual(
        (yield* coordinator.active).map((r) => [r.pipeline, r.state]),
        [["b", "running"]]
      )
      yield* TestClock.adjust("10 minutes")
      assert.deepStrictEqual(yield* Ref.get(runs.finished), [a.batchId, b.batchId])
      // Once finished, the pipeline may run again.
      yield* coordinator.submit({ pipeline: "a", trigger: "api" })
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("on shutdown lets a running run finish within the grace period and refuses new ones", () =>
    Effect.gen(function* () {
      const runs = yield* fakeRuns("20 seconds", "30 seconds")
      const scope = yield* Scope.fork(yield* Effect.scope)
      const context = yield* Layer.buildWithScope(runs.layer, scope)
      const coordinator = context.mapUnsafe.get(RunCoordinator.key) as RunCoordinator["Service"]
      const running = yield* coordinator.submit({ pipeline: "a", trigger: "api" })
      const queued = yield* coordinator.submit({ pipeline: "b", trigger: "api" })
      yield* TestClock.adjust("5 seconds")
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second")
      const refused = yield* Effect.flip(coordinator.submit({ pipeline: "c", trigger: "api" }))
      assert.strictEqual(refused._tag, "ShuttingDown")
      assert.strictEqual(closing.pollUnsafe(), undefined)
      yield* TestClock.adjust("15 seconds")
      yield* Fiber.join(closing)
      assert.deepStrictEqual(yield* Ref.get(runs.finished), [running.batchId])
      assert.deepStrictEqual(yield* Ref.get(runs.interrupted), [])
      // The queued run never started.
      assert.isFalse((yield* Ref.get(runs.started)).some((s) => s.batchId === queued.batchId))
    })
  )

  it.effect("cancels a run that outlasts the grace period", () =>
    Effect.gen(function* () {
      const runs = yield* fakeRuns("1 hour", "30 seconds")
      const scope = yield* Scope.fork(yield* Effect.scope)
      const context = yield* Layer.buildWithScope(runs.layer, scope)
      const coordinator = context.mapUnsafe.get(RunCoordinator.key) as RunCoordinator["Service"]
      const run = yield* coordinator.submit({ pipeline: "a", trigger: "schedule" })
      yield* TestClock.adjust("1 minute")
      const done = yield* Deferred.make<void>()
      yield* Effect.forkChild(Scope.close(scope, Exit.void).pipe(Effect.andThen(Deferred.succeed(done, undefined))))
      yield* TestClock.adjust("29 seconds")
      assert.isFalse(yield* Deferred.isDone(done))
      assert.deepStrictEqual(yield* Ref.get(runs.interrupted), [])
      yield* TestClock.adjust("1 second")
      yield* Deferred.await(done)
      assert.deepStrictEqual(yield* Ref.get(runs.interrupted), [run.batchId])
      assert.deepStrictEqual(yield* Ref.get(runs.finished), [])
    })
  )
})
