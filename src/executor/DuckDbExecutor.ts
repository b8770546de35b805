/**
 * The embedded DuckDB executor: one database instance per process, a connection per session.
 * Owns connection lifetimes, statement interruption and error classification; not SQL building.
 */
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api"
import { Effect, Exit, FileSystem, Layer, Path } from "effect"
import { duckdb } from "../compile/duckdb.ts"
import { type Activity, CurrentTable, Executor, ExecutorError, type Param, QueryFailed, type Row, type Session, Unavailable } from "./Executor.ts"
import { statementName, traced as statementSpan } from "./statementSpan.ts"

export interface DuckDbOptions {
  /** Database file, or ":memory:". */
  readonly path: string
  readonly threads?: number | undefined
  readonly memoryLimit?: string | undefined
  /** Open without taking the write lock (for plan); every write fails. */
  readonly readOnly?: boolean | undefined
}

// Lock contention and write-write conflicts clear up on their own; everything else is the statement.
const transient = /Could not set lock on file|Conflict on|write-write conflict|Could not open database/i

const toError =
  (statement: string) =>
  (cause: unknown): ExecutorError => {
    const detail = cause instanceof Error ? cause.message : String(cause)
    return new ExecutorError({
      statement,
      reason: transient.test(detail) ? new Unavailable({ detail }) : new QueryFailed({ detail })
    })
  }

/**
 * A connection and the statement running on it. An interrupted statement is told to stop, but the
 * interruption does not wait for it; closing the connection while it still runs can hang or crash
 * the process, so release waits for `running` to settle first.
 */
interface Connection {
  readonly connection: DuckDBConnection
  running: Promise<unknown> | undefined
  /** The statement running on it, for activity reports. */
  current: { readonly sql: string; readonly table: string | undefined; readonly since: number } | undefined
}

const run = (conn: Connection, sql: string, params?: ReadonlyArray<Param>) =>
  Effect.gen(function* () {
    const table = yield* CurrentTable
    return yield* Effect.tryPromise({
      try: (signal) => {
        const { connection } = conn
        const onAbort = () => connection.interrupt()
        signal.addEventListener("abort", onAbort, { once: true })
        conn.current = { sql, table, since: Date.now() }
        const reading = params === undefined ? connection.runAndReadAll(sql) : connection.runAndReadAll(sql, [...params])
        const settled = reading.finally(() => {
          signal.removeEventListener("abort", onAbort)
          conn.current = undefined
        })
        conn.running = settled
        return settled
      },
      catch: toError(sql)
    })
  })

/**
 * What a connection is running: the statement's kind and since when. (DuckDB's query progress reads
 * 0% through the Node API while a statement runs, so none is reported.)
 */
const activityOf = (conn: Connection): Activity | undefined =>
  conn.current === undefined ? undefined : { table: conn.current.table, statement: statementName(conn.current.sql), since: conn.current.since }

/** Closes the connection once its last statement has finished or stopped. */
const close = (conn: Connection) =>
  Effect.promise(() =>
    (conn.running ?? Promise.resolve()).then(
      () => undefined,
      () => undefined
    )
  ).pipe(Effect.andThen(Effect.sync(() => conn.connection.closeSync())))

/** A statement's span, after the OpenTelemetry database conventions (literal values never exported). */
const traced = (sql: string) => statementSpan(sql, "duckdb", { "db.system.name": "duckdb" })

const makeSession = (connection: Connection): Session => {
  const execute = (sql: string) =>
    run(connection, sql).pipe(
      Effect.map((reader) => {
        // CREATE TABLE AS reports its rows in a Count column; INSERT and UPDATE in rowsChanged.
        const counted = reader.columnNames()[0] === "Count" ? Number(reader.getRowObjectsJson()[0]?.["Count"] ?? 0) : 0
        return reader.rowsChanged > 0 ? reader.rowsChanged : counted
      }),
      Effect.tap((rows) => Effect.annotateCurrentSpan("db.response.affected_rows", rows)),
      traced(sql)
    )
  const query = (sql: string) =>
    run(connection, sql).pipe(
      Effect.map((reader) => reader.getRowObjectsJson() as ReadonlyArray<Row>),
      Effect.tap((rows) => Effect.annotateCurrentSpan("db.response.returned_rows", rows.length)),
      traced(sql)
    )
  const queryWith = (sql: string, params: ReadonlyArray<Param>) =>
    run(connection, sql, params).pipe(
      Effect.map((reader) => reader.getRowObjectsJson() as ReadonlyArray<Row>),
      Effect.tap((rows) => Effect.annotateCurrentSpan("db.response.returned_rows", rows.length)),
      traced(sql)
    )
  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        yield* execute(duckdb.begin)
        const exit = yield* Effect.exit(restore(effect))
        if (Exit.isSuccess(exit)) {
          yield* execute(duckdb.commit)
          return exit.value
        }
        yield* Effect.ignore(execute(duckdb.rollback))
        return yield* exit
      })
    )
  return { execute, query, queryWith, transaction }
}

export const layer = (options: DuckDbOptions) =>
  Layer.effect(
    Executor,
    Effect.gen(function* () {
      if (options.path !== ":memory:" && options.readOnly !== true) {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        yield* fs
          .makeDirectory(path.dirname(options.path), { recursive: true })
          .pipe(
            Effect.mapError(
              (cause) =>
                new ExecutorError({ statement: "(open database)", reason: new QueryFailed({ detail: `cannot create the directory for ${options.path}: ${cause.message}` }) })
            )
          )
      }
      const settings: Record<string, string> = {}
      if (options.threads !== undefined) settings["threads"] = String(options.threads)
      if (options.memoryLimit !== undefined) {
        settings["memory_limit"] = options.memoryLimit
        // DuckDB's allocator (jemalloc) returns freed memory to the OS lazily, so a long run's RSS
        // can sit ~1 GB above memory_limit (100M rows: 5.5 GB at 4GB); background threads purge
        // freed pages as they go (4.3 GB). It costs speed, so only when memory is bounded.
        settings["allocator_background_threads"] = "true"
        // DuckDB plans QUALIFY row_number() = 1 (a table's leading dedupe) as a grouped arg_max,
        // faster, but at 100M rows under 4GB it ran out of memory; the plain window spills.
        settings["disabled_optimizers"] = "top_n_window_elimination"
      }
      if (options.readOnly === true) settings["access_mode"] = "READ_ONLY"
      const instance = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => DuckDBInstance.create(options.path, settings), catch: toError(`(open database ${options.path})`) }),
        (db) => Effect.sync(() => db.closeSync())
      )
      const open = new Set<Connection>()
      const withSession = <A, E, R>(use: (session: Session) => Effect.Effect<A, E, R>) =>
        Effect.acquireUseRelease(
          Effect.tryPromise({ try: () => instance.connect(), catch: toError("(connect)") }).pipe(
            Effect.map((connection): Connection => ({ connection, running: undefined, current: undefined })),
            Effect.tap((connection) => Effect.sync(() => open.add(connection)))
          ),
          (connection) => use(makeSession(connection)),
          (connection) =>
            Effect.andThen(
              Effect.sync(() => open.delete(connection)),
              close(connection)
            )
        )
      return Executor.of({
        engine: "duckdb",
        dialect: duckdb,
        withSession,
        healthCheck: withSession((s) => s.query("SELECT 1 AS ok")).pipe(Effect.asVoid),
        activity: Effect.sync(() => [...open].flatMap((c) => activityOf(c) ?? []))
      })
    })
  )
