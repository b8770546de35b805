/**
 * Reads of a DuckDB warehouse while another process writes it. DuckDB lets one process at a time
 * open a database file, not even a reader beside a writer, so the process that holds the warehouse
 * (an apply, a server) serves the reads of the others: an HTTP endpoint on 127.0.0.1, announced in
 * `<database>.readers` (its pid, address and a random token; readable by the file's owner only,
 * like the warehouse). It runs each query on a connection of its own, inside a transaction that it
 * always rolls back: a reader sees what is committed, as if it had opened the file itself, and can
 * change nothing. RemoteExecutor.ts is the other side.
 */
import { randomBytes, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, FileSystem, Layer, Option, Schema } from "effect"
import * as Secrets from "../secrets/Secrets.ts"
import { Executor, type ExecutorError, type Param } from "./Executor.ts"
import { type Announcement, announcementFile } from "./RemoteExecutor.ts"

/** A read request: one query and its parameters. */
export const ReadRequest = Schema.Struct({
  sql: Schema.String,
  params: Schema.optional(Schema.Array(Schema.Union([Schema.String, Schema.Number, Schema.Boolean, Schema.Null])))
})

// What a read may start with; anything else is refused before it reaches the engine.
const readOnly = /^\s*(\(\s*)*(SELECT|WITH|FROM|VALUES|DESCRIBE|SHOW|SUMMARIZE|EXPLAIN)\b/i

const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (c: Buffer) => chunks.push(c))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

const send = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { "content-type": "application/json" })
  response.end(JSON.stringify(body))
}

const sameToken = (given: string | undefined, token: string) => {
  const a = Buffer.from(given ?? "")
  const b = Buffer.from(`Bearer ${token}`)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Serves reads of the executor's database while the layer lives; announces itself beside `database`. */
export const layer = (database: string): Layer.Layer<never, never, Executor | FileSystem.FileSystem> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const executor = yield* Executor
      const fs = yield* FileSystem.FileSystem
      const token = randomBytes(32).toString("hex")
      Secrets.register(token)
      const read = (sql: string, params: ReadonlyArray<Param> | undefined) =>
        executor.withSession((session) =>
          Effect.acquireUseRelease(
            session.execute("BEGIN TRANSACTION"),
            () => (params === undefined || session.queryWith === undefined ? session.query(sql) : session.queryWith(sql, params)),
            () => Effect.ignore(session.execute("ROLLBACK"))
          )
        )
      const handle = async (request: IncomingMessage, response: ServerResponse) => {
        if (request.method !== "POST" || request.url !== "/query") return send(response, 404, { error: "POST /query" })
        if (!sameToken(request.headers.authorization, token)) return send(response, 401, { error: "unknown token" })
        const decoded = Schema.decodeUnknownOption(Schema.fromJsonString(ReadRequest))(await readBody(request))
        if (Option.isNone(decoded)) return send(response, 400, { error: "expected {sql, params?}" })
        const { sql, params } = decoded.value
        if (!readOnly.test(sql)) return send(response, 400, { error: "only reads are served" })
        const exit = await Effect.runPromiseExit(read(sql, params))
        if (exit._tag === "Success") return send(response, 200, { rows: exit.value })
        const failure = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as ExecutorError | undefined
        send(response, 500, { error: failure?.reason.detail ?? "the read failed", retryable: failure?.isRetryable ?? false })
      }
      const server = createServer((request, response) => {
        handle(request, response).catch((error: unknown) => send(response, 500, { error: String(error) }))
      })
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () =>
          Effect.callback<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const { port } = server.address() as AddressInfo
      const file = announcementFile(database)
      const announcement: Announcement = { pid: process.pid, url: `http://127.0.0.1:${port}`, token }
      // Written aside and renamed into place: a reader never sees half of it.
      const draft = `${file}.${process.pid}.tmp`
      const announced = fs.writeFileString(draft, JSON.stringify(announcement), { mode: 0o600 }).pipe(Effect.andThen(fs.rename(draft, file)))
      // Without the file, readers are refused as before: worth a warning, not the run.
      yield* Effect.acquireRelease(
        announced.pipe(
          Effect.as(true),
          Effect.catch((e) => Effect.as(Effect.logWarning(`cannot announce the warehouse's read endpoint in ${file}: ${e.message}`), false))
        ),
        (written) => (written ? Effect.ignore(fs.remove(file)) : Effect.void)
      )
    })
  )
