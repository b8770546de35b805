/**
 * Runs pipelines on their `schedule`: `cron` (five fields, or six with seconds) in `timezone`
 * (an IANA name, UTC by default), through Effect's Cron and Clock, so tests drive it with TestClock.
 *
 * A firing never overlaps the same pipeline's previous run: the RunCoordinator refuses it, and the
 * firing is skipped and recorded with the reason (events, a log line and the
 * `medallion.schedule.skipped` counter). With `catch_up: true`, a pipeline whose latest scheduled
 * time passed while no server was running (its last run started before that time, or it never
 * ran) runs once at start. Owns timing only; what a run does is the coordinator's business.
 */
import { Clock, Context, Cron, Duration, Effect, Layer, Metric, Result, Schema } from "effect"
import { parseCron } from "../plan/Plan.ts"
import { RunCoordinator, type Trigger } from "./RunCoordinator.ts"

export interface ScheduleSpec {
  readonly pipeline: string
  readonly cron: string
  readonly timezone?: string | undefined
  /** Run once at start when the latest scheduled time was missed. */
  readonly catchUp?: boolean | undefined
}

interface ScheduleEvent {
  /** When the firing happened. */
  readonly at: string
  /** The scheduled time it was for. */
  readonly scheduledFor: string
  readonly trigger: Extract<Trigger, "schedule" | "catch-up">
  /** submitted: handed to the coordinator (it runs when the writer is free); skipped: refused, see reason. */
  readonly outcome: "submitted" | "skipped"
  readonly batchId: string | undefined
  readonly reason: string | undefined
}

export interface ScheduleInfo {
  readonly pipeline: string
  readonly cron: string
  readonly timezone: string
  readonly catchUp: boolean
  readonly nextRun: string
  /** The latest firings, newest first. */
  readonly recent: ReadonlyArray<ScheduleEvent>
}

/** A pipeline's schedule cannot be used. */
export class ScheduleError extends Schema.TaggedError<ScheduleError>()("ScheduleError", {
  pipeline: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `pipeline ${this.pipeline}: ${this.reason}`
  }
}

export class Scheduler extends Context.Service<
  Scheduler,
  {
    /** The schedule of a pipeline, with its next run time; undefined when it has none. */
    readonly info: (pipeline: string) => Effect.Effect<ScheduleInfo | undefined>
  }
>()("medallion/runtime/Scheduler") {}

const keptEvents = 20

const fired = Metric.counter("medallion.schedule.firings", { description: "Scheduled firings, by pipeline and outcome (submitted, skipped)", incremental: true })

/** Parses every schedule first, so a bad one stops the server before anything runs. */
const parseSchedules = (specs: ReadonlyArray<ScheduleSpec>): Result.Result<ReadonlyArray<readonly [ScheduleSpec, Cron.Cron]>, ScheduleError> => {
  const parsed: Array<readonly [ScheduleSpec, Cron.Cron]> = []
  for (const spec of specs) {
    const cron = parseCron(spec.cron, spec.timezone)
    if (Result.isFailure(cron)) {
      const what = cron.failure.message.includes("time zone")
        ? `unknown time zone "${spec.timezone}" (use an IANA name such as Europe/Berlin)`
        : `invalid cron "${spec.cron}": ${cron.failure.message}`
      return Result.fail(new ScheduleError({ pipeline: spec.pipeline, reason: `${what}; fix schedule in its pipeline file` }))
    }
    parsed.push([spec, cron.success])
  }
  return Result.succeed(parsed)
}

export interface SchedulerOptions<E> {
  readonly schedules: ReadonlyArray<ScheduleSpec>
  /** When the pipeline's latest run started (epoch millis), for the missed-run check. */
  readonly lastStarted: (pipeline: string) => Effect.Effect<number | undefined, E>
}

const make = Effect.fnUntraced(function* <E>(options: SchedulerOptions<E>) {
  const coordinator = yield* RunCoordinator
  const parsed = parseSchedules(options.schedules)
  if (Result.isFailure(parsed)) return yield* parsed.failure
  const events = new Map<string, Array<ScheduleEvent>>()
  const iso = (ms: number) => new Date(ms).toISOString()

  const fire = (spec: ScheduleSpec, scheduledFor: number, trigger: ScheduleEvent["trigger"], note?: string) =>
    Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      const submitted = yield* Effect.result(coordinator.submit({ pipeline: spec.pipeline, trigger }))
      const event: ScheduleEvent = Result.isSuccess(submitted)
        ? { at: iso(at), scheduledFor: iso(scheduledFor), trigger, outcome: "submitted", batchId: submitted.success.batchId, reason: note }
        : { at: iso(at), scheduledFor: iso(scheduledFor), trigger, outcome: "skipped", batchId: undefined, reason: submitted.failure.message }
      const list = events.get(spec.pipeline) ?? []
      list.unshift(event)
      events.set(spec.pipeline, list.slice(0, keptEvents))
      yield* Metric.update(Metric.withAttributes(fired, { pipeline: spec.pipeline, outcome: event.outcome }), 1)
      if (event.outcome === "skipped") yield* Effect.logWarning(`schedule: skipped ${spec.pipeline} at ${event.scheduledFor}: ${event.reason}`)
    })

  const loop = (spec: ScheduleSpec, cron: Cron.Cron) =>
    Effect.gen(function* () {
      let after = yield* Clock.currentTimeMillis
      while (true) {
        // Strictly after the last firing, so a clock that wakes early never fires one time twice.
        const next = Cron.next(cron, new Date(after)).getTime()
        const now = yield* Clock.currentTimeMillis
        if (next > now) yield* Effect.sleep(Duration.millis(next - now))
        after = next
        yield* fire(spec, next, "schedule")
      }
    })

  const now = yield* Clock.currentTimeMillis
  for (const [spec, cron] of parsed.success) {
    if (spec.catchUp !== true) continue
    const due = Cron.prev(cron, new Date(now)).getTime()
    const last = yield* Effect.result(options.lastStarted(spec.pipeline))
    if (Result.isFailure(last)) {
      yield* Effect.logWarning(`schedule: cannot tell whether ${spec.pipeline} missed a run (${String(last.failure)}); not catching up`)
      continue
    }
    if (last.success === undefined || last.success < due) {
      yield* fire(spec, due, "catch-up", `missed ${iso(due)}; last run ${last.success === undefined ? "never" : `started ${iso(last.success)}`}`)
    }
  }
  yield* Effect.forEach(parsed.success, ([spec, cron]) => Effect.forkScoped(loop(spec, cron)), { discard: true })

  const byPipeline = new Map(parsed.success.map(([spec, cron]) => [spec.pipeline, [spec, cron] as const]))
  return Scheduler.of({
    info: (pipeline) =>
      Effect.gen(function* () {
        const found = byPipeline.get(pipeline)
        if (found === undefined) return undefined
        const [spec, cron] = found
        const now = yield* Clock.currentTimeMillis
        return {
          pipeline,
          cron: spec.cron,
          timezone: spec.timezone ?? "UTC",
          catchUp: spec.catchUp === true,
          nextRun: Cron.next(cron, new Date(now)).toISOString(),
          recent: [...(events.get(pipeline) ?? [])]
        }
      })
  })
})

export const layer = <E>(options: SchedulerOptions<E>): Layer.Layer<Scheduler, ScheduleError, RunCoordinator> => Layer.effect(Scheduler, make(options))
