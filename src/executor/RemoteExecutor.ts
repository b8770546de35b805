/**
 * An executor for the commands that only read (runs, show, plan) while another process holds a
 * DuckDB warehouse: each query goes to that process's read endpoint (ReadEndpoint.ts), which runs
 * it on the warehouse as it is committed. Rows arrive as the DuckDB executor gives them (JSON), so
 * the commands read them unchanged. Writes fail: a reader changes nothing.
 */
import { Effect, FileSystem, Layer, Option, Schema } from "effect"
import { duckdb } from "../compile/duckdb.ts"
import * as Secrets from "../secrets/Secrets.ts"
import { Executor, ExecutorError, type Param, QueryFailed, type Row, type Session, Unavailable } from "./Executor.ts"

/** What `<database>.readers` holds: the holder's pid, its read endpoint and the token it asks for. */
export const Announcement = Schema.Struct({
  pid: Schema.Int,
  url: Schema.String,
  token: Schema.String
})
export type Announcement = typeof Announcement.Type

export const announcementFile = (database: string) => `${database}.readers`

/** The announcement beside `database`, if one is there and readable. */
export const find = (database: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(announcementFile(database)).pipe(Effect.option)
    const announcement = Option.flatMap(text, Schema.decodeUnknownOption(Schema.fromJsonString(Announcement)))
    if (Option.isSome(announcement)) Secrets.register(announcement.value.token)
    return announcement
  })

const Answer = Schema.Union([
  Schema.Struct({ rows: Schema.Array(Schema.Record(Schema.String, Schema.Unknown)) }),
  Schema.Struct({ error: Schema.String, retryable: Schema.optional(Schema.Boolean) })
])
const decodeAnswer = Schema.decodeUnknownOption(Answer)

const ask = (endpoint: Announcement, sql: string, params?: ReadonlyArray<Param>) =>
  Effect.gen(function* () {
    const unavailable = (detail: string) => new ExecutorError({ statement: sql, reason: new Unavailable({ detail }) })
    const response = yield* Effect.tryPromise({
      try: (signal) =>
        fetch(`${endpoint.url}/query`, {
          method: "POST",
          headers: { authorization: `Bearer ${endpoint.token}`, "content-type": "application/json" },
          body: JSON.stringify(params === undefined ? { sql } : { sql, params }),
          signal
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as unknown })),
      catch: (e) => unavailable(`the process holding the warehouse (pid ${endpoint.pid}) did not answer: ${e instanceof Error ? e.message : String(e)}`)
    })
    const answer = decodeAnswer(response.body)
    if (answer._tag === "None") return yield* unavailable(`unexpected answer from pid ${endpoint.pid} (HTTP ${response.status})`)
    if ("rows" in answer.value) return answer.value.rows as ReadonlyArray<Row>
    const reason = answer.value.retryable === true ? new Unavailable({ detail: answer.value.error }) : new QueryFailed({ detail: answer.value.error })
    return yield* new ExecutorError({ statement: sql, reason })
  })

const session = (endpoint: Announcement): Session => ({
  execute: (sql) => Effect.fail(new ExecutorError({ statement: sql, reason: new QueryFailed({ detail: "read-only: another process holds the warehouse" }) })),
  query: (sql) => ask(endpoint, sql),
  queryWith: (sql, params) => ask(endpoint, sql, params),
  // Nothing is written, so there is nothing to commit or roll back.
  transaction: (effect) => effect
})

export const layer = (endpoint: Announcement) =>
  Layer.succeed(
    Executor,
    Executor.of({
      engine: "duckdb",
      dialect: duckdb,
      withSession: (use) => use(session(endpoint)),
      healthCheck: Effect.asVoid(ask(endpoint, "SELECT 1 AS ok"))
    })
  )
