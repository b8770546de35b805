/**
 * Resilience policies for running a table: the retry schedule (with a hook to record each retry),
 * timeouts, and the canonical parser for the durations written in pipeline files.
 */
import { Duration, Effect, Option, Schedule, Schema } from "effect"
import { dual } from "effect/Function"

// ---------------------------------------------------------------------------------------------
// Durations

const durationPattern = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i
const unitMillis: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(ms|millis?|milliseconds?)$/, 1],
  [/^(s|secs?|seconds?)$/, 1000],
  [/^(m|mins?|minutes?)$/, 60_000],
  [/^(h|hrs?|hours?)$/, 3_600_000],
  [/^(d|days?)$/, 86_400_000],
  [/^(w|weeks?)$/, 604_800_000]
]

/** Parses "500ms", "5s", "2m", "1h", "1 day", "30 seconds"; undefined when the text is not a duration. */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const m = durationPattern.exec(text.trim())
  if (m === null) return undefined
  const unit = unitMillis.find(([pattern]) => pattern.test(m[2]!.toLowerCase()))
  return unit === undefined ? undefined : Duration.millis(Number(m[1]) * unit[1])
}

/** `text` as a duration, or `fallback` when it is absent or not a duration (pipeline files are validated first). */
export const toDuration = (text: string | undefined, fallback: Duration.Input): Duration.Duration =>
  (text === undefined ? undefined : parseDuration(text)) ?? Duration.fromInputUnsafe(fallback)

// ---------------------------------------------------------------------------------------------
// Retries

export interface RetryOptions {
  /** Total attempts, the first one included. */
  readonly attempts: number
  readonly backoff?: "exponential" | "fixed" | undefined
  /** First delay; "1s" when absent. */
  readonly initial?: string | undefined
  /** Longest delay; "30s" when absent. */
  readonly max?: string | undefined
  /** Scale each delay by a random 0.8–1.2, so parallel retries do not stampede; true when absent. */
  readonly jitter?: boolean | undefined
}

/** Only errors that say so (ExecutorError with an Unavailable reason) are worth retrying. */
const isRetryable = (error: unknown): boolean => typeof error === "object" && error !== null && (error as { isRetryable?: unknown }).isRetryable === true

/**
 * The retry schedule: 3 attempts in all, exponential from 1 s, capped at 30 s, jittered, unless
 * `retry` says otherwise; stops at the first error that is not retryable.
 */
export const retrySchedule = (retry: RetryOptions | undefined) => {
  const attempts = retry?.attempts ?? 3
  const initial = toDuration(retry?.initial, "1 second")
  const max = toDuration(retry?.max, "30 seconds")
  const base = retry?.backoff === "fixed" ? Schedule.spaced(initial) : Schedule.exponential(initial)
  const capped = Schedule.min([base, Schedule.spaced(max)])
  return (retry?.jitter === false ? capped : Schedule.jittered(capped)).pipe(
    Schedule.upTo({ times: attempts - 1 }),
    Schedule.setInputType<unknown>(),
    Schedule.while(({ input }) => isRetryable(input))
  )
}

/**
 * Called before each retry: `attempt` is the number of the attempt that just failed (1 for the
 * first), `error` its error, `delay` the wait before attempt `attempt + 1`.
 */
export type OnRetry = (attempt: number, error: unknown, delay: Duration.Duration) => Effect.Effect<void>

/** Retries `effect` by `retrySchedule(retry)`, calling `onRetry` only for retries that will happen. */
export const withRetries: {
  (retry: RetryOptions | undefined, onRetry: OnRetry): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, retry: RetryOptions | undefined, onRetry: OnRetry): Effect.Effect<A, E, R>
} = dual(3, <A, E, R>(effect: Effect.Effect<A, E, R>, retry: RetryOptions | undefined, onRetry: OnRetry) =>
  Effect.retry(
    effect,
    // Tapped last, so it sees the jittered delay and only the decisions to retry.
    retrySchedule(retry).pipe(Schedule.tap(({ attempt, duration, input }) => onRetry(attempt, input, duration)))
  )
)

// ---------------------------------------------------------------------------------------------
// Timeouts

export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  /** What timed out, e.g. "silver.orders". */
  what: Schema.String,
  /** The limit as written, e.g. "5m". */
  limit: Schema.String
}) {
  /** A statement that ran out of time will most likely do so again. */
  get isRetryable() {
    return false
  }
  override get message(): string {
    return `${this.what} did not finish within ${this.limit}; raise timeout: in the pipeline or table, or look at the slow statement`
  }
}

/**
 * Fails with Timeout when `effect` runs longer than `limit` ("5m", "30 seconds", a Duration),
 * interrupting it (DuckDbExecutor interrupts the running statement). No limit: `effect` as is.
 */
export const withTimeout: {
  (limit: Duration.Input | string | undefined, what: string): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | Timeout, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, limit: Duration.Input | string | undefined, what: string): Effect.Effect<A, E | Timeout, R>
} = dual(3, <A, E, R>(effect: Effect.Effect<A, E, R>, limit: Duration.Input | string | undefined, what: string): Effect.Effect<A, E | Timeout, R> => {
  if (limit === undefined) return effect
  const duration = typeof limit === "string" ? (parseDuration(limit) ?? Option.getOrUndefined(Duration.fromInput(limit as Duration.Input))) : Duration.fromInputUnsafe(limit)
  if (duration === undefined) return Effect.die(new Error(`timeout for ${what} is not a duration: ${limit} (write e.g. 500ms, 30s, 5m, 1h)`))
  const shown = typeof limit === "string" ? limit.trim() : Duration.format(duration)
  return Effect.timeoutOrElse(effect, { duration, orElse: () => Effect.fail(new Timeout({ what, limit: shown })) })
})

/**
 * Short retries for bookkeeping statements outside a table's own attempt (the run record, table
 * state, migrations), so a transient failure there does not fail a run whose tables succeeded.
 */
export const retryBookkeeping = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, retrySchedule({ attempts: 5, initial: "50ms", max: "2s" }))
