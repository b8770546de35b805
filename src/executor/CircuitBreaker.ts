/**
 * A circuit breaker around any Executor: after `failureThreshold` transient failures in a row it
 * stops sending statements for `cooldown` (each fails fast with reason CircuitOpen, which is not
 * retryable, so retries do not spin against a dead engine), then lets one trial statement through:
 * success closes the circuit, a transient failure re-opens it.
 *
 * Only transient failures (ExecutorError.isRetryable) count. A success resets the count; a
 * permanent failure (QueryFailed) neither counts nor resets it, because the engine answered but
 * says nothing about whether it is healthy. The breaker guards session statements (execute/query);
 * BEGIN/COMMIT inside `transaction`, opening sessions and `healthCheck` pass straight through.
 * State changes are logged (and so become events on the current span) and annotate the span.
 *
 *   CircuitBreaker.layer({ failureThreshold: 5, cooldown: "30 seconds" }).pipe(Layer.provide(DuckDbExecutor.layer(options)))
 */
import { Clock, Duration, Effect, Exit, Ref } from "effect"
import { aroundStatements, CircuitOpen, decorator, type Executor, ExecutorError } from "./Executor.ts"

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the circuit. */
  readonly failureThreshold: number
  /** How long the circuit stays open before one trial statement is let through. */
  readonly cooldown: Duration.Input
}

type CircuitState =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly failures: number; readonly until: number }
  | { readonly _tag: "HalfOpen"; readonly failures: number; readonly trialRunning: boolean }

type Admission = { readonly _tag: "Admit"; readonly trial: boolean } | { readonly _tag: "Reject"; readonly failures: number; readonly wait: string }

type Transition = readonly [event: string | undefined, next: CircuitState]

const make = (inner: Executor["Service"], options: CircuitBreakerOptions) =>
  Effect.gen(function* () {
    const cooldown = Duration.fromInputUnsafe(options.cooldown)
    const cooldownMillis = Duration.toMillis(cooldown)
    const state = yield* Ref.make<CircuitState>({ _tag: "Closed", failures: 0 })

    const admit = (s: CircuitState, now: number): readonly [Admission, CircuitState, string | undefined] => {
      switch (s._tag) {
        case "Closed":
          return [{ _tag: "Admit", trial: false }, s, undefined]
        case "Open":
          return now < s.until
            ? [{ _tag: "Reject", failures: s.failures, wait: Duration.format(Duration.millis(s.until - now)) }, s, undefined]
            : [{ _tag: "Admit", trial: true }, { _tag: "HalfOpen", failures: s.failures, trialRunning: true }, "half-open"]
        case "HalfOpen":
          return s.trialRunning
            ? [{ _tag: "Reject", failures: s.failures, wait: "as long as a trial statement runs" }, s, undefined]
            : [{ _tag: "Admit", trial: true }, { ...s, trialRunning: true }, undefined]
      }
    }

    const settle = (s: CircuitState, trial: boolean, exit: Exit.Exit<unknown, ExecutorError>, now: number): Transition => {
      const transient = Exit.isFailure(exit) && exit.cause.reasons.some((r) => r._tag === "Fail" && r.error.isRetryable)
      if (trial && s._tag === "HalfOpen") {
        if (Exit.isSuccess(exit)) return ["closed", { _tag: "Closed", failures: 0 }]
        if (transient) return ["re-opened", { _tag: "Open", failures: s.failures + 1, until: now + cooldownMillis }]
        return [undefined, { ...s, trialRunning: false }] // permanent failure or interruption: the next statement is the trial
      }
      if (s._tag !== "Closed") return [undefined, s] // a statement admitted before the circuit opened
      if (Exit.isSuccess(exit)) return [undefined, s.failures === 0 ? s : { _tag: "Closed", failures: 0 }]
      if (!transient) return [undefined, s]
      const failures = s.failures + 1
      return failures >= Math.max(1, options.failureThreshold) ? ["opened", { _tag: "Open", failures, until: now + cooldownMillis }] : [undefined, { _tag: "Closed", failures }]
    }

    const report = (event: string | undefined, s: CircuitState) => {
      if (event === undefined) return Effect.void
      const text =
        event === "opened" || event === "re-opened"
          ? `circuit ${event} after ${s.failures} transient failures in a row; statements fail fast for ${Duration.format(cooldown)}`
          : event === "half-open"
            ? "circuit half-open: letting one trial statement through"
            : "circuit closed: the trial statement succeeded"
      const log = event === "closed" ? Effect.logInfo(text) : Effect.logWarning(text)
      // Logs inside a span are recorded as span events by Effect's default tracer logger.
      return Effect.andThen(
        Effect.annotateCurrentSpan({ "medallion.circuit.state": s._tag, "medallion.circuit.failures": s.failures }),
        log.pipe(Effect.annotateLogs({ "medallion.circuit.event": event, "medallion.engine": inner.engine }))
      )
    }

    const guard = <A>(sql: string, statement: Effect.Effect<A, ExecutorError>): Effect.Effect<A, ExecutorError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const [admission, next, event] = yield* Ref.modify(state, (s) => {
            const result = admit(s, now)
            return [result, result[1]]
          })
          yield* report(event, next)
          if (admission._tag === "Reject") {
            return yield* new ExecutorError({
              statement: sql,
              reason: new CircuitOpen({
                detail: `the executor failed ${admission.failures} times in a row; not sending more statements for ${admission.wait}; the engine may be down: check it, then re-run`
              })
            })
          }
          const exit = yield* Effect.exit(restore(statement))
          const end = yield* Clock.currentTimeMillis
          const [settled, after] = yield* Ref.modify(state, (s) => {
            const result = settle(s, admission.trial, exit, end)
            return [result, result[1]]
          })
          yield* report(settled, after)
          return yield* exit
        })
      )

    return aroundStatements(inner, guard)
  })

/** Decorates the Executor below it (provide one with Layer.provide). */
export const layer = (options: CircuitBreakerOptions) => decorator((inner) => make(inner, options))
