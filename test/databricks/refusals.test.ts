/**
 * The Databricks executor when the workspace answers what the stand-in never does: nothing at all
 * (a host that does not listen), a connection dropped during a status poll, an HTTP error that is
 * not about credentials or load, a body that is not the API's, a truncated result, a broken result
 * chunk, and an OAuth token endpoint that cannot be reached or answers nonsense; also a wait
 * timeout the API would refuse. Each answer comes from a small scripted server, one per test.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import { FetchHttpClient } from "effect/http"
import { type DatabricksOptions, make } from "../../src/executor/DatabricksExecutor.ts"
import type { ExecutorError } from "../../src/executor/Executor.ts"

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void

/** A server answering each request with `handler`, for the test's duration; the requests it saw. */
const scripted = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const seen: Array<string> = []
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (c: Buffer) => chunks.push(c))
        request.on("end", () => {
          seen.push(`${request.method} ${request.url}`)
          handler(request, response, Buffer.concat(chunks).toString("utf8"))
        })
      })
      await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server }
    }),
    ({ server }) =>
      Effect.promise(() => {
        server.closeAllConnections()
        return new Promise<void>((done) => server.close(() => done()))
      })
  )

/** A port nothing listens on: opened, read and closed again. */
const closedPort = Effect.promise(async () => {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((done) => server.close(() => done()))
  return `http://127.0.0.1:${port}`
})

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { "content-type": "application/json" })
  response.end(JSON.stringify(body))
}

const options = (host: string, overrides: Partial<DatabricksOptions> = {}): DatabricksOptions => ({
  host,
  warehouseId: "wh",
  auth: { _tag: "Token", token: Redacted.make("dapi-refusals-test-token") },
  catalog: "lakehouse",
  waitTimeout: "5 seconds",
  pollInitial: "10 millis",
  pollMax: "50 millis",
  retries: 2,
  retryInitial: "10 millis",
  retryMax: "50 millis",
  ...overrides
})

const query = (host: string, sql: string, overrides: Partial<DatabricksOptions> = {}) =>
  Effect.flatMap(make(options(host, overrides)), (executor) => executor.withSession((session) => session.query(sql))).pipe(Effect.provide(FetchHttpClient.layer))

const failure = <A>(exit: Exit.Exit<A, ExecutorError>): ExecutorError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return Option.getOrThrow(error)
}

const succeeded = (id: string, rows: ReadonlyArray<ReadonlyArray<string | null>>, extra: Record<string, unknown> = {}) => ({
  statement_id: id,
  status: { state: "SUCCEEDED" },
  manifest: { schema: { columns: [{ name: "n", type_name: "INT" }] }, ...extra },
  result: { data_array: rows }
})

describe("Databricks executor: refusals the stand-in does not make", () => {
  it.live("a wait timeout the API would refuse fails before any request", () =>
    Effect.gen(function* () {
      const s = yield* scripted((_, response) => json(response, 500, {}))
      const error = failure(yield* Effect.exit(query(s.url, "SELECT 1 AS n", { waitTimeout: "3 seconds" })))
      assert.include(error.message, "wait_timeout must be 0s or between 5s and 50s, not 3s")
      assert.isFalse(error.isRetryable)
      assert.deepStrictEqual(s.seen, [])
    }).pipe(Effect.scoped)
  )

  it.live("a host where nothing listens: a transient error naming databricks.host", () =>
    Effect.gen(function* () {
      const host = yield* closedPort
      const error = failure(yield* Effect.exit(query(host, "SELECT 1 AS n")))
      assert.include(error.message, `cannot reach Databricks at ${host} (a statement: TransportError)`)
      assert.include(error.message, "check databricks.host and the network")
      assert.isTrue(error.isRetryable, "the runtime's retry policy may try the table again")
    }).pipe(Effect.scoped)
  )

  it.live("a connection dropped during a status poll: the poll is sent again and the rows arrive", () =>
    Effect.gen(function* () {
      let polls = 0
      const s = yield* scripted((request, response) => {
        if (request.method === "POST") return json(response, 200, { statement_id: "st-1", status: { state: "RUNNING" } })
        polls++
        if (polls === 1) return request.socket.destroy()
        json(response, 200, succeeded("st-1", [["7"]]))
      })
      assert.deepStrictEqual(yield* query(s.url, "SELECT 7 AS n"), [{ n: 7 }])
      assert.strictEqual(polls, 2)
    }).pipe(Effect.scoped)
  )

  it.live("an HTTP error other than credentials or load: permanent, with the API's error code and message", () =>
    Effect.gen(function* () {
      const s = yield* scripted((_, response) => json(response, 404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "No warehouse with id wh" }))
      const error = failure(yield* Effect.exit(query(s.url, "SELECT 1 AS n")))
      assert.include(error.message, "rejected a statement (HTTP 404 RESOURCE_DOES_NOT_EXIST: No warehouse with id wh)")
      assert.isFalse(error.isRetryable)
      assert.strictEqual(s.seen.length, 1, "not retried")
    }).pipe(Effect.scoped)
  )

  it.live("an HTTP 500 whose error code is transient is retryable", () =>
    Effect.gen(function* () {
      const s = yield* scripted((_, response) => json(response, 500, { error_code: "TEMPORARILY_UNAVAILABLE", message: "try later" }))
      const error = failure(yield* Effect.exit(query(s.url, "SELECT 1 AS n")))
      assert.include(error.message, "HTTP 500 TEMPORARILY_UNAVAILABLE: try later")
      assert.isTrue(error.isRetryable)
    }).pipe(Effect.scoped)
  )

  it.live("a 200 whose body is not the API's: permanent, saying so", () =>
    Effect.gen(function* () {
      const s = yield* scripted((_, response) => {
        response.writeHead(200, { "content-type": "text/html" })
        response.end("<html>a login page</html>")
      })
      const error = failure(yield* Effect.exit(query(s.url, "SELECT 1 AS n")))
      assert.include(error.message, "answered with an unexpected body")
      assert.isFalse(error.isRetryable)
    }).pipe(Effect.scoped)
  )

  it.live("a truncated result is refused rather than read as all the rows", () =>
    Effect.gen(function* () {
      const s = yield* scripted((_, response) => json(response, 200, succeeded("st-2", [["1"]], { truncated: true })))
      const error = failure(yield* Effect.exit(query(s.url, "SELECT n FROM big")))
      assert.include(error.message, "truncated the result of the statement")
      assert.isFalse(error.isRetryable)
    }).pipe(Effect.scoped)
  )

  it.live("a result chunk that is not valid fails the statement", () =>
    Effect.gen(function* () {
      const s = yield* scripted((request, response) => {
        if (request.method === "POST") {
          return json(response, 200, { ...succeeded("st-3", [["1"]]), result: { data_array: [["1"]], next_chunk_internal_link: "/api/2.0/sql/statements/st-3/result/chunks/1" } })
        }
        json(response, 200, { data_array: "not rows" })
      })
      const error = failure(yield* Effect.exit(query(s.url, "SELECT n FROM t")))
      assert.include(error.message, "sent a result chunk that is not valid")
      assert.isFalse(error.isRetryable)
    }).pipe(Effect.scoped)
  )

  it.live("an OAuth token endpoint that cannot be reached: transient; one that answers nonsense: permanent", () =>
    Effect.gen(function* () {
      const oauth = { auth: { _tag: "OAuth" as const, clientId: "ci", clientSecret: Redacted.make("client-secret-refusals") } }
      const host = yield* closedPort
      const unreachable = failure(yield* Effect.exit(query(host, "SELECT 1 AS n", oauth)))
      assert.include(unreachable.message, `cannot reach Databricks at ${host} for an OAuth token`)
      assert.isTrue(unreachable.isRetryable)

      const s = yield* scripted((_, response) => json(response, 200, { token: "no access_token here" }))
      const nonsense = failure(yield* Effect.exit(query(s.url, "SELECT 1 AS n", oauth)))
      assert.include(nonsense.message, "answered the OAuth token request with an unexpected body")
      assert.isFalse(nonsense.isRetryable)
      assert.deepStrictEqual(s.seen, ["POST /oidc/v1/token"])
    }).pipe(Effect.scoped)
  )
})
