/**
 * The executor contract: run SQL on an engine. A session pins one connection, so temp tables and
 * transactions stay on it. Implementations: DuckDbExecutor.ts (embedded, default).
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Dialect } from "../compile/Dialect.ts"

export type Row = Readonly<Record<string, unknown>>

/** A value bound to a statement parameter. */
export type Param = string | number | boolean | null

/** The engine could not be reached or the statement conflicted with another: worth retrying. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  detail: Schema.String
}) {
  get isRetryable() {
    return true
  }
}

/** The engine rejected the statement: retrying will not help. */
export class QueryFailed extends Schema.TaggedError<QueryFailed>()("QueryFailed", {
  detail: Schema.String
}) {
  get isRetryable() {
    return false
  }
}

/**
 * A circuit breaker (CircuitBreaker.ts) stopped the statement before it reached the engine, after
 * repeated transient failures. Not retryable: retrying during the cooldown would only spin.
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  detail: Schema.String
}) {
  get isRetryable() {
    return false
  }
}

/** What separates an error's message from the statement it quotes (the CLI shows that with --verbose only). */
export const statementMarker = "\n  in statement: "

export class ExecutorError extends Schema.TaggedError<ExecutorError>()("ExecutorError", {
  reason: Schema.Union([Unavailable, QueryFailed, CircuitOpen]),
  statement: Schema.String
}) {
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
  override get message(): string {
    const sql = this.statement.length > 600 ? `${this.statement.slice(0, 600)} ...` : this.statement
    return `${this.reason.detail}${statementMarker}${sql.replaceAll("\n", "\n    ")}`
  }
}

export interface Session {
  /** Runs a statement; returns the rows it changed (or created), when the engine says. */
  readonly execute: (sql: string) => Effect.Effect<number, ExecutorError>
  readonly query: (sql: string) => Effect.Effect<ReadonlyArray<Row>, ExecutorError>
  /**
   * Runs a query with positional parameters `$1`, `$2`, ... bound to `params` by the engine, never
   * spliced into the text: for values that come from outside (API requests). Absent on engines
   * without parameter binding.
   */
  readonly queryWith?: ((sql: string, params: ReadonlyArray<Param>) => Effect.Effect<ReadonlyArray<Row>, ExecutorError>) | undefined
  /** Runs `effect` inside BEGIN/COMMIT on this session; rolls back on failure or interruption. */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ExecutorError, R>
}

/** The table the running work is for (the runner sets it), so that a statement's activity names it. */
export const CurrentTable = Context.Reference<string | undefined>("medallion/executor/CurrentTable", { defaultValue: () => undefined })

/**
 * Set for statements whose failure is an expected answer (a probe of a table that may not exist
 * yet): their spans end without an error status (statementSpan.ts).
 */
export const ExpectedFailure = Context.Reference<boolean>("medallion/executor/ExpectedFailure", { defaultValue: () => false })

/** A statement running now, for progress reports. */
export interface Activity {
  readonly table: string | undefined
  /** What kind of statement, e.g. `CREATE TABLE`, `MERGE INTO`. */
  readonly statement: string
  /** When it started (epoch ms). */
  readonly since: number
}

export class Executor extends Context.Service<
  Executor,
  {
    readonly engine: string
    readonly dialect: Dialect
    /** Gives `use` a session on its own connection for its whole duration. */
    readonly withSession: <A, E, R>(use: (session: Session) => Effect.Effect<A, E, R>) => Effect.Effect<A, E | ExecutorError, R>
    readonly healthCheck: Effect.Effect<void, ExecutorError>
    /** The statements running now, where the engine can tell (embedded DuckDB). */
    readonly activity?: Effect.Effect<ReadonlyArray<Activity>> | undefined
  }
>()("medallion/executor/Executor") {}

/**
 * The same executor with every statement run through `around` (decorators such as the circuit
 * breaker and the fault injector); transactions and sessions pass through unchanged.
 */
export const aroundStatements = (
  inner: Executor["Service"],
  around: <A>(sql: string, run: Effect.Effect<A, ExecutorError>) => Effect.Effect<A, ExecutorError>
): Executor["Service"] => {
  const wrap = (session: Session): Session => {
    const queryWith = session.queryWith
    return {
      execute: (sql) => around(sql, session.execute(sql)),
      query: (sql) => around(sql, session.query(sql)),
      ...(queryWith === undefined ? {} : { queryWith: (sql: string, params: ReadonlyArray<Param>) => around(sql, queryWith(sql, params)) }),
      transaction: session.transaction
    }
  }
  return Executor.of({
    engine: inner.engine,
    dialect: inner.dialect,
    withSession: (use) => inner.withSession((session) => use(wrap(session))),
    healthCheck: inner.healthCheck,
    activity: inner.activity
  })
}

/** A layer that decorates the Executor below it (provide one with Layer.provide). */
export const decorator = (make: (inner: Executor["Service"]) => Effect.Effect<Executor["Service"]>): Layer.Layer<Executor, never, Executor> =>
  Layer.effect(
    Executor,
    Effect.gen(function* () {
      return yield* make(yield* Executor)
    })
  )
