/**
 * FAULT INJECTOR, for tests and for demonstrating retries and the circuit breaker; never for
 * production. Decorates the Executor below it so that every `every`-th session statement
 * (execute/query, counted across all sessions) fails with a transient Unavailable, and statements
 * matching `failPermanently` fail with QueryFailed. Injected failures happen BEFORE the statement
 * reaches the engine, so nothing half-runs. BEGIN/COMMIT inside `transaction`, opening sessions
 * and `healthCheck` are never failed.
 *
 *   FlakyExecutor.layer({ every: 3 }).pipe(Layer.provide(DuckDbExecutor.layer({ path: ":memory:" })))
 */
import { Effect, Ref } from "effect"
import { aroundStatements, decorator, type Executor, ExecutorError, QueryFailed, Unavailable } from "./Executor.ts"

export interface FlakyOptions {
  /**
   * Fail statements number every, 2×every, ... with a transient error; omit to never do so. The
   * statement failed last is let through when it comes again at such a number: a transient failure
   * clears on retry, also when a retried unit of work is as long as the period.
   */
  readonly every?: number | undefined
  /** Fail matching statements with a permanent error (checked after the transient one). */
  readonly failPermanently?: ((sql: string) => boolean) | undefined
}

const ordinal = (k: number) =>
  k === 1 ? "" : `${k}${k % 10 === 1 && k % 100 !== 11 ? "st" : k % 10 === 2 && k % 100 !== 12 ? "nd" : k % 10 === 3 && k % 100 !== 13 ? "rd" : "th"} `

const make = (inner: Executor["Service"], options: FlakyOptions) =>
  Effect.gen(function* () {
    const counter = yield* Ref.make(0)
    const lastFailed = yield* Ref.make<string | undefined>(undefined)
    const every = options.every !== undefined && options.every >= 1 ? Math.floor(options.every) : undefined

    const inject = Effect.fnUntraced(function* (sql: string) {
      const n = yield* Ref.updateAndGet(counter, (c) => c + 1)
      if (every !== undefined && n % every === 0 && (every === 1 || (yield* Ref.getAndSet(lastFailed, sql)) !== sql)) {
        return yield* new ExecutorError({
          statement: sql,
          reason: new Unavailable({ detail: `injected transient failure (every ${ordinal(every)}statement)` })
        })
      }
      if (options.failPermanently?.(sql) === true) {
        return yield* new ExecutorError({
          statement: sql,
          reason: new QueryFailed({ detail: "injected permanent failure (the statement matched the fault injector)" })
        })
      }
    })

    return aroundStatements(inner, (sql, run) => Effect.andThen(inject(sql), run))
  })

/** Decorates the Executor below it (provide one with Layer.provide). */
export const layer = (options: FlakyOptions) => decorator((inner) => make(inner, options))
