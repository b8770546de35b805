/**
 * Who runs what, and when, inside a long-running process (`medallion serve`): one writer for the
 * warehouse, so runs go one at a time in the order they were asked for; a pipeline that is already
 * queued or running is refused (RunInProgress) rather than run twice; and on shutdown new runs are
 * refused (ShuttingDown), queued ones are dropped, and the running one may finish within a grace
 * period before it is interrupted (the Runner then records it as cancelled).
 *
 * Owns the queue and the shutdown policy, not what a run does: `run` is given (in serve it applies
 * the pipeline's tables with Runner.apply), so the policy is testable with TestClock and no engine.
 */
import { Cause, Clock, Context, Duration, Effect, Fiber, FiberSet, Layer, Schema, Semaphore, type Tracer } from "effect"
import { makeBatchId } from "./Runner.ts"

/** What asked for the run. catch-up: a scheduled time missed while no server was running. */
export type Trigger = "api" | "schedule" | "catch-up"

export interface RunRequest {
  readonly pipeline: string
  readonly trigger: Trigger
  /** Rebuild the pipeline's tables from all their input. */
  readonly fullRefresh?: boolean | undefined
  /** The span the run continues, e.g. the HTTP request's (which continues the caller's trace). */
  readonly parent?: Tracer.AnySpan | undefined
}

export interface ActiveRun {
  readonly pipeline: string
  readonly batchId: string
  readonly trigger: Trigger
  readonly state: "queued" | "running"
  readonly submittedAt: string
  readonly startedAt: string | undefined
}

/** The pipeline already has a run queued or running. */
export class RunInProgress extends Schema.TaggedError<RunInProgress>()("RunInProgress", {
  pipeline: Schema.String,
  batchId: Schema.String,
  state: Schema.Literals(["queued", "running"])
}) {
  override get message(): string {
    return `pipeline ${this.pipeline} is already ${this.state} (run ${this.batchId}); wait for it to finish`
  }
}

/** The process is shutting down and takes no new runs. */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", {}) {
  override get message(): string {
    return "the server is shutting down and takes no new runs"
  }
}

export class RunCoordinator extends Context.Service<
  RunCoordinator,
  {
    /** Queues a run of the pipeline; succeeds at once with its batch id, before the run starts. */
    readonly submit: (request: RunRequest) => Effect.Effect<ActiveRun, RunInProgress | ShuttingDown>
    /** Runs queued or running, oldest first. */
    readonly active: Effect.Effect<ReadonlyArray<ActiveRun>>
    /** Waits until nothing is queued or running. */
    readonly idle: Effect.Effect<void>
  }
>()("medallion/runtime/RunCoordinator") {}

export interface CoordinatorOptions<E, R> {
  /** Performs one run; its batch id was made at submission. */
  readonly run: (request: RunRequest, batchId: string) => Effect.Effect<unknown, E, R>
  /** How long a running run may take to finish once shutdown starts, before it is interrupted. */
  readonly grace: Duration.Input
}

interface Entry {
  run: ActiveRun
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

const make = Effect.fnUntraced(function* <E, R>(options: CoordinatorOptions<E, R>) {
  const context = yield* Effect.context<R>()
  const writer = yield* Semaphore.make(1)
  const fibers = yield* FiberSet.make<unknown, unknown>()
  const entries = new Map<string, Entry>() // by pipeline, in submission order
  const grace = Duration.fromInputUnsafe(options.grace)
  let closing = false
  const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

  const perform = (entry: Entry, request: RunRequest) =>
    writer
      .withPermits(1)(
        Effect.gen(function* () {
          entry.run = { ...entry.run, state: "running", startedAt: yield* isoNow }
          yield* Effect.logInfo(`run ${entry.run.batchId}: pipeline ${request.pipeline} started (${request.trigger})`)
          yield* options.run(request, entry.run.batchId)
        })
      )
      .pipe(
        Effect.tapCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError(`run ${entry.run.batchId} of pipeline ${request.pipeline} did not complete`, cause)
        ),
        Effect.ensuring(
          Effect.sync(() => {
            if (entries.get(request.pipeline) === entry) entries.delete(request.pipeline)
          })
        ),
        Effect.provideContext(context)
      )

  const submit = (request: RunRequest) =>
    Effect.gen(function* () {
      const batchId = yield* makeBatchId
      const submittedAt = yield* isoNow
      // Check and reserve in one step: no other fiber runs in between.
      const reserved = yield* Effect.sync(() => {
        if (closing) return new ShuttingDown()
        const existing = entries.get(request.pipeline)
        if (existing !== undefined) return new RunInProgress({ pipeline: request.pipeline, batchId: existing.run.batchId, state: existing.run.state })
        const entry: Entry = {
          run: { pipeline: request.pipeline, batchId, trigger: request.trigger, state: "queued", submittedAt, startedAt: undefined },
          fiber: undefined
        }
        entries.set(request.pipeline, entry)
        return entry
      })
      if (reserved instanceof ShuttingDown || reserved instanceof RunInProgress) return yield* Effect.fail(reserved)
      reserved.fiber = yield* FiberSet.run(fibers, perform(reserved, request))
      return reserved.run
    })

  // Added after the FiberSet, so it runs first on close: drain before the set interrupts the rest.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      closing = true
      const all = [...entries.values()]
      const queued = all.filter((e) => e.run.state === "queued")
      if (queued.length > 0) {
        yield* Effect.logWarning(`shutting down: dropping ${queued.length} queued run(s): ${queued.map((e) => `${e.run.pipeline} (${e.run.batchId})`).join(", ")}`)
        yield* Fiber.interruptAll(queued.flatMap((e) => (e.fiber === undefined ? [] : [e.fiber])))
      }
      const running = all.filter((e) => e.run.state === "running")
      if (running.length === 0) return
      yield* Effect.logInfo(`shutting down: waiting up to ${Duration.format(grace)} for run(s) to finish: ${running.map((e) => `${e.run.pipeline} (${e.run.batchId})`).join(", ")}`)
      const finished = yield* Fiber.awaitAll(running.flatMap((e) => (e.fiber === undefined ? [] : [e.fiber]))).pipe(Effect.timeoutOption(grace))
      if (finished._tag === "None") {
        yield* Effect.logWarning(`shutting down: grace period of ${Duration.format(grace)} over; cancelling ${running.map((e) => e.run.batchId).join(", ")}`)
        yield* Fiber.interruptAll(running.flatMap((e) => (e.fiber === undefined ? [] : [e.fiber])))
      }
    })
  )

  return RunCoordinator.of({
    submit,
    active: Effect.sync(() => [...entries.values()].map((e) => e.run)),
    idle: FiberSet.awaitEmpty(fibers)
  })
})

export const layer = <E, R>(options: CoordinatorOptions<E, R>): Layer.Layer<RunCoordinator, never, R> => Layer.effect(RunCoordinator, make(options))
