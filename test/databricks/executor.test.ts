/**
 * The Databricks executor against the stand-in warehouse (test/support/databricks): the statement
 * lifecycle (wait timeout then polling, every chunk, typed values, named parameters, query_tags),
 * each injected fault (429 with Retry-After, 503, slow statements, FAILED statements, expired
 * tokens) and how it is handled, OAuth M2M, and that secrets stay out of errors, logs and spans.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Layer, Logger, Option, Redacted, References, Tracer } from "effect"
import { FetchHttpClient, HttpClientRequest } from "effect/http"
import { type DatabricksOptions, make, namedParameters, parseRetryAfter, requestSpanName } from "../../src/executor/DatabricksExecutor.ts"
import { Executor, type ExecutorError } from "../../src/executor/Executor.ts"
import { withTimeout } from "../../src/executor/policy.ts"
import { standInOptions, TOKEN, WAREHOUSE } from "../support/databricks/engine.ts"
import { type StandIn, type StandInOptions, startStandIn } from "../support/databricks/server.ts"

const CLIENT_ID = "medallion-ci"
const CLIENT_SECRET = "stand-in-client-secret-42"

/** A stand-in for the test's duration (closed at the end of its scope). */
const standIn = (options: Partial<StandInOptions> = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => startStandIn({ catalog: "lakehouse", warehouseId: WAREHOUSE, token: TOKEN, clients: { [CLIENT_ID]: CLIENT_SECRET }, ...options })),
    (s) => Effect.promise(() => s.close())
  )

/** The executor service on a stand-in, plus its statement runner with parameters. */
const executorOn = (s: StandIn, overrides: Partial<DatabricksOptions> = {}) => make(standInOptions(s, overrides)).pipe(Effect.provide(FetchHttpClient.layer))

const query = (s: StandIn, sql: string, overrides: Partial<DatabricksOptions> = {}) =>
  Effect.flatMap(executorOn(s, overrides), (ex) => ex.withSession((session) => session.query(sql)))

const failure = <A>(exit: Exit.Exit<A, ExecutorError>): ExecutorError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return Option.getOrThrow(error)
}

const statementRequests = (s: StandIn) => s.log.requests.filter((r) => r.path === "/api/2.0/sql/statements")
const oauth = { auth: { _tag: "OAuth" as const, clientId: CLIENT_ID, clientSecret: Redacted.make(CLIENT_SECRET) } }

describe("Databricks executor: the statement lifecycle", () => {
  it.live("submits with the wait timeout and continues asynchronously, polling until the statement ends", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.slow("pg_sleep_marker", 400)
      const rows = yield* query(s, "SELECT 42 AS answer, 'pg_sleep_marker' AS m", { waitTimeout: "0 seconds" })
      assert.deepStrictEqual(rows, [{ answer: 42, m: "pg_sleep_marker" }])
      assert.strictEqual(s.log.submitted[0]!.wait_timeout, "0s")
      assert.strictEqual(s.log.submitted[0]!.on_wait_timeout, "CONTINUE")
      const polls = s.log.requests.filter((r) => r.method === "GET" && /\/statements\/[^/]+$/.test(r.path))
      assert.isAtLeast(polls.length, 2, "a statement still running is polled, more than once")
      // Capped backoff: 20 ms doubling up to 200 ms over 400 ms is a handful of polls, not hundreds.
      assert.isAtMost(polls.length, 12)
    }).pipe(Effect.scoped)
  )

  it.live("answers within the wait timeout without polling when the statement is quick", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      assert.deepStrictEqual(yield* query(s, "SELECT 1 AS one"), [{ one: 1 }])
      assert.strictEqual(s.log.submitted[0]!.wait_timeout, "5s")
      assert.deepStrictEqual(
        s.log.requests.map((r) => r.method),
        ["POST"]
      )
    }).pipe(Effect.scoped)
  )

  it.live("reads every chunk and decodes values by the manifest's types", () =>
    Effect.gen(function* () {
      const s = yield* standIn({ rowsPerChunk: 2 })
      const rows = yield* query(
        s,
        `
        SELECT i, CAST(i AS BIGINT) * 10000000000 AS big, CAST(i * 0.25 AS DECIMAL(12,2)) AS money, i % 2 = 0 AS even,
               CAST('2024-05-0' || i AS DATE) AS day, array('a', CAST(i AS STRING)) AS tags, CAST(NULL AS STRING) AS nothing, i / 2 AS half
        FROM (SELECT explode(array(1, 2, 3, 4, 5)) AS i) AS t ORDER BY i`
      )
      assert.strictEqual(rows.length, 5)
      assert.deepStrictEqual(rows[4], { i: 5, big: "50000000000", money: "1.25", even: false, day: "2024-05-05", tags: ["a", "5"], nothing: null, half: 2.5 })
      const chunks = s.log.requests.filter((r) => r.path.includes("/result/chunks/")).map((r) => r.path.split("/").pop())
      assert.deepStrictEqual(chunks, ["1", "2"])
    }).pipe(Effect.scoped)
  )

  it.live("returns the rows a write changed, from num_affected_rows", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const ex = yield* executorOn(s)
      const counts = yield* ex.withSession((session) =>
        Effect.forEach(
          [
            "CREATE SCHEMA IF NOT EXISTS `lakehouse`.`bronze`",
            "CREATE OR REPLACE TABLE `lakehouse`.`bronze`.`t` USING DELTA AS SELECT 1 AS a UNION ALL SELECT 2",
            "INSERT INTO `lakehouse`.`bronze`.`t` BY NAME SELECT 3 AS a",
            "DELETE FROM `lakehouse`.`bronze`.`t` WHERE a < 3"
          ],
          session.execute
        )
      )
      assert.deepStrictEqual(counts, [0, 2, 1, 2])
    }).pipe(Effect.scoped)
  )

  it.live("binds named parameters, and positional $n values as named ones", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const ex = yield* executorOn(s)
      const rows = yield* ex.runStatement("SELECT :name AS name, :n + 1 AS next, :missing IS NULL AS absent", [
        { name: "name", value: "it's ok" },
        { name: "n", value: "41", type: "INT" },
        { name: "missing" }
      ])
      assert.deepStrictEqual(rows, [{ name: "it's ok", next: 42, absent: true }])
      assert.deepStrictEqual(s.log.submitted[0]!.parameters, [{ name: "name", value: "it's ok" }, { name: "n", value: "41", type: "INT" }, { name: "missing" }])
      const bound = yield* ex.withSession((session) => session.queryWith!("SELECT $1 AS a, $2 * 2 AS b, '$1' AS literal", ["x'); DROP TABLE t; --", 21]))
      // A whole number binds as BIGINT, which comes back as exact text (LONG), like DuckDB's JSON rows.
      assert.deepStrictEqual(bound, [{ a: "x'); DROP TABLE t; --", b: "42", literal: "$1" }])
      assert.deepStrictEqual(namedParameters("SELECT `$1`, $1, '$2' -- $3\n, $2", [null, true]), {
        statement: "SELECT `$1`, :p1, '$2' -- $3\n, :p2",
        parameters: [
          { name: "p1", type: "STRING" },
          { name: "p2", value: "true", type: "BOOLEAN" }
        ]
      })
    }).pipe(Effect.scoped)
  )

  it.live("tags statements with the run's batch_id, table and trace id", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const ex = yield* executorOn(s)
      const traceId = yield* ex
        .withSession((session) => session.query("SELECT 1 AS x"))
        .pipe(
          Effect.andThen(Effect.currentSpan),
          Effect.withSpan("medallion.table", { attributes: { "medallion.table": "silver.orders" } }),
          Effect.withSpan("medallion.apply", { attributes: { "medallion.batch_id": "20260101T000000000Z-00c0ffee" } }),
          Effect.map((span) => span.traceId)
        )
      assert.deepStrictEqual(s.log.submitted[0]!.query_tags, [
        { key: "medallion_batch_id", value: "20260101T000000000Z-00c0ffee" },
        { key: "medallion_table", value: "silver.orders" },
        { key: "trace_id", value: traceId }
      ])
    }).pipe(Effect.scoped)
  )
})

describe("Databricks executor: faults", () => {
  it.live("429: waits for Retry-After, then submits again", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.rateLimit(2, 1)
      const started = Date.now()
      assert.deepStrictEqual(yield* query(s, "SELECT 1 AS ok"), [{ ok: 1 }])
      const elapsed = Date.now() - started
      assert.deepStrictEqual(
        statementRequests(s).map((r) => r.status),
        [429, 429, 200]
      )
      assert.isAtLeast(elapsed, 1900, "Retry-After: 1 is honoured twice (the backoff alone would be 50 + 100 ms)")
      assert.strictEqual(s.log.submitted.length, 1, "a rejected submit never reached the warehouse")
    }).pipe(Effect.scoped)
  )

  it.live("503 TEMPORARILY_UNAVAILABLE: retried with backoff, also while polling", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.unavailable(2)
      s.faults.slow("slow_poll", 300)
      s.faults.unavailable(2, undefined, "poll")
      assert.deepStrictEqual(yield* query(s, "SELECT 'slow_poll' AS v", { waitTimeout: "0 seconds" }), [{ v: "slow_poll" }])
      assert.deepStrictEqual(
        statementRequests(s).map((r) => r.status),
        [503, 503, 200]
      )
      assert.strictEqual(s.log.requests.filter((r) => r.method === "GET" && r.status === 503).length, 2)
    }).pipe(Effect.scoped)
  )

  it.live("when 503s outlast the retries: a transient Unavailable error for the runtime's retry policy", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.unavailable(10)
      const error = failure(yield* Effect.exit(query(s, "SELECT 1 AS ok", { retries: 2 })))
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.isTrue(error.isRetryable)
      assert.match(error.message, /kept answering HTTP 503 \(TEMPORARILY_UNAVAILABLE: .*\) to a statement after 3 attempts/)
      assert.strictEqual(statementRequests(s).length, 3)
    }).pipe(Effect.scoped)
  )

  it.live("a FAILED statement is a permanent QueryFailed with the warehouse's error, not retried", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const error = failure(yield* Effect.exit(query(s, "SELECT * FROM `lakehouse`.`silver`.`nope`")))
      assert.strictEqual(error.reason._tag, "QueryFailed")
      assert.isFalse(error.isRetryable)
      assert.match(error.message, /the statement failed on Databricks at .*: BAD_REQUEST: Catalog Error: [\s\S]*nope[\s\S]* \(SQLSTATE 42P01\)/)
      assert.include(error.message, "in statement: SELECT * FROM `lakehouse`.`silver`.`nope`")
      assert.strictEqual(s.log.submitted.length, 1)
    }).pipe(Effect.scoped)
  )

  it.live("a statement FAILED with a transient code (or a Delta write conflict) did not commit and runs again", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.fail("SELECT 7", { error_code: "TEMPORARILY_UNAVAILABLE", message: "warehouse is scaling" })
      s.faults.fail("SELECT 7", { error_code: "INTERNAL_ERROR", message: "[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added" })
      assert.deepStrictEqual(yield* query(s, "SELECT 7 AS seven"), [{ seven: 7 }])
      assert.strictEqual(s.log.submitted.length, 3)
      s.faults.fail("SELECT 8", { error_code: "RESOURCE_EXHAUSTED", message: "too many queries" }, 10)
      const error = failure(yield* Effect.exit(query(s, "SELECT 8 AS eight", { retries: 1 })))
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.include(error.message, "RESOURCE_EXHAUSTED: too many queries")
    }).pipe(Effect.scoped)
  )

  it.live("interrupting a running statement cancels it on the warehouse", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.slow("very_slow", 20_000)
      // The submit itself is not interrupted (so the statement's id is always known): with a
      // wait timeout of 0 s it returns at once, and the interruption lands while polling.
      const fiber = yield* Effect.forkChild(query(s, "SELECT 'very_slow' AS v", { waitTimeout: "0 seconds" }))
      yield* Effect.sleep("300 millis")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 2000)
      assert.strictEqual(s.log.cancels.length, 1)
      const id = s.log.cancels[0]!
      assert.strictEqual(s.log.states(id), "CANCELED")
    }).pipe(Effect.scoped)
  )

  it.live("an interruption during the submit's wait still cancels the statement once its id is known", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.slow("slow_submit", 20_000)
      const fiber = yield* Effect.forkChild(query(s, "SELECT 'slow_submit' AS v", { waitTimeout: "5 seconds" }))
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(s.log.cancels.length, 1)
      assert.strictEqual(s.log.states(s.log.cancels[0]!), "CANCELED")
    }).pipe(Effect.scoped)
  )

  it.live("a table timeout interrupts the statement, which is cancelled", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.slow("timed_out", 20_000)
      const exit = yield* Effect.exit(withTimeout(query(s, "SELECT 'timed_out' AS v", { waitTimeout: "0 seconds" }), "500 millis", "gold.kpis"))
      assert.isTrue(Exit.isFailure(exit))
      assert.match(String(Exit.isFailure(exit) ? Cause.squash(exit.cause) : ""), /gold\.kpis did not finish within 500 millis/)
      assert.strictEqual(s.log.cancels.length, 1)
      assert.strictEqual(s.log.states(s.log.cancels[0]!), "CANCELED")
    }).pipe(Effect.scoped)
  )

  it.live("a statement cancelled by someone else is a QueryFailed saying so", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.slow("cancel_me", 5_000)
      const fiber = yield* Effect.forkChild(Effect.exit(query(s, "SELECT 'cancel_me' AS v", { waitTimeout: "0 seconds" })))
      yield* Effect.sleep("200 millis")
      // The statement's id, from the executor's status polls.
      const statementId = s.log.requests
        .find((r) => r.method === "GET")
        ?.path.split("/")
        .pop()
      assert.isDefined(statementId)
      yield* Effect.promise(() => fetch(`${s.url}/api/2.0/sql/statements/${statementId}/cancel`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } }))
      const error = failure(yield* Fiber.join(fiber))
      assert.strictEqual(error.reason._tag, "QueryFailed")
      assert.include(error.message, "was canceled on Databricks")
    }).pipe(Effect.scoped)
  )

  it.live("an expired personal access token: a permanent error that says what to do, without the token", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      s.faults.expireTokens()
      const error = failure(yield* Effect.exit(query(s, "SELECT 1 AS ok")))
      assert.strictEqual(error.reason._tag, "QueryFailed")
      assert.match(error.message, /rejected the credentials \(HTTP 401 UNAUTHENTICATED: Invalid access token\.\).*set a valid databricks\.token \(DATABRICKS_TOKEN\)/)
      assert.notInclude(error.message, TOKEN)
      assert.notInclude(JSON.stringify(error), TOKEN)
      assert.strictEqual(statementRequests(s).length, 1, "a PAT is not retried")
    }).pipe(Effect.scoped)
  )
})

describe("Databricks executor: OAuth machine-to-machine", () => {
  it.live("gets a token with the client credentials and sends it as a bearer token", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const ex = yield* executorOn(s, oauth)
      yield* ex.withSession((session) => Effect.all([session.query("SELECT 1 AS a"), session.query("SELECT 2 AS b")]))
      assert.strictEqual(s.log.tokenRequests, 1, "one token serves both statements")
      assert.isTrue(statementRequests(s).every((r) => r.authorization?.startsWith("Bearer stand-in-") === true))
    }).pipe(Effect.scoped)
  )

  it.live("an expired token is refreshed and the request sent again", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const ex = yield* executorOn(s, oauth)
      yield* ex.withSession((session) => session.query("SELECT 1 AS a"))
      s.faults.expireTokens()
      assert.deepStrictEqual(yield* ex.withSession((session) => session.query("SELECT 2 AS b")), [{ b: 2 }])
      assert.strictEqual(s.log.tokenRequests, 2)
      assert.deepStrictEqual(
        statementRequests(s).map((r) => r.status),
        [200, 401, 200]
      )
    }).pipe(Effect.scoped)
  )

  it.live("a token is refreshed before it expires, without a rejected request", () =>
    Effect.gen(function* () {
      const s = yield* standIn({ tokenLifetimeSeconds: 1 })
      const ex = yield* executorOn(s, oauth)
      yield* ex.withSession((session) => session.query("SELECT 1 AS a"))
      yield* Effect.sleep("950 millis") // past 90% of the lifetime, still before expiry
      yield* ex.withSession((session) => session.query("SELECT 2 AS b"))
      assert.strictEqual(s.log.tokenRequests, 2)
      assert.deepStrictEqual(
        statementRequests(s).map((r) => r.status),
        [200, 200]
      )
    }).pipe(Effect.scoped)
  )

  it.live("a wrong client secret: a permanent error naming the settings, never the secret", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const wrong = { auth: { _tag: "OAuth" as const, clientId: CLIENT_ID, clientSecret: Redacted.make("not-the-secret-9876") } }
      const error = failure(yield* Effect.exit(query(s, "SELECT 1 AS ok", wrong)))
      assert.strictEqual(error.reason._tag, "QueryFailed")
      assert.match(error.message, /refused the OAuth token request \(HTTP 401 invalid_client: Client authentication failed\); check databricks\.client_id and client_secret/)
      assert.notInclude(JSON.stringify(error) + error.message, "not-the-secret-9876")
    }).pipe(Effect.scoped)
  )
})

describe("Databricks executor: secrets", () => {
  it.live("never appear in errors, logs or spans", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const logs: Array<string> = []
      const capture = Logger.make(({ message }) => logs.push(JSON.stringify(message)))
      const run = Effect.gen(function* () {
        const pat = yield* executorOn(s)
        const m2m = yield* executorOn(s, oauth)
        s.faults.rateLimit(1, 0)
        yield* pat.withSession((session) => session.query("SELECT 1 AS a"))
        yield* Effect.exit(pat.withSession((session) => session.query("SELECT * FROM nowhere")))
        yield* m2m.withSession((session) => session.query("SELECT 2 AS b"))
        s.faults.expireTokens()
        yield* Effect.exit(pat.withSession((session) => session.query("SELECT 3 AS c")))
        return yield* Effect.exit(m2m.withSession((session) => session.query("SELECT 4 AS d")))
      }).pipe(Effect.withTracer(tracer), Effect.provide(Logger.layer([capture])), Effect.provideService(References.MinimumLogLevel, "Trace"))
      const exit = yield* run
      assert.isTrue(Exit.isSuccess(exit))
      assert.isAbove(spans.length, 5)
      const dump = JSON.stringify({
        spans: spans.map((span) => ({
          name: span.name,
          attributes: Object.fromEntries(span.attributes),
          events: span.events,
          status: String(span.status._tag === "Ended" ? span.status.exit : "")
        })),
        logs
      })
      assert.include(dump, "Authorization".toLowerCase(), "request headers are on the spans (redacted)")
      for (const secret of [TOKEN, CLIENT_SECRET]) assert.notInclude(dump, secret)
      assert.notInclude(dump, Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64"))
    }).pipe(Effect.scoped)
  )
})

describe("Databricks executor: spans", () => {
  it.live("names statement spans {operation} {target} and request spans {method} {url template}", () =>
    Effect.gen(function* () {
      const s = yield* standIn()
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      // A wait timeout of 0: the submit answers PENDING and the status is polled.
      const ex = yield* executorOn(s, { waitTimeout: "0 seconds" })
      yield* ex.withSession((session) => session.query("SELECT schema_name FROM `lakehouse`.information_schema.schemata")).pipe(Effect.withTracer(tracer))
      const statement = spans.find((span) => span.kind === "client" && span.attributes.has("db.system.name"))!
      assert.strictEqual(statement.name, "SELECT lakehouse.information_schema.schemata")
      assert.deepInclude(Object.fromEntries(statement.attributes), {
        "db.system.name": "databricks",
        "db.namespace": "lakehouse",
        "db.operation.name": "SELECT",
        "db.collection.name": "lakehouse.information_schema.schemata",
        "db.query.summary": "SELECT lakehouse.information_schema.schemata"
      })
      const requests = spans.filter((span) => span.attributes.has("http.request.method")).map((span) => span.name)
      assert.strictEqual(requests[0], "POST /api/2.0/sql/statements")
      assert.include(requests, "GET /api/2.0/sql/statements/{statement_id}")
    }).pipe(Effect.scoped)
  )

  it("names a result chunk request by its template", () => {
    assert.strictEqual(
      requestSpanName(HttpClientRequest.get("https://adb-1.2.azuredatabricks.net/api/2.0/sql/statements/01ef-42/result/chunks/3")),
      "GET /api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}"
    )
    assert.strictEqual(requestSpanName(HttpClientRequest.post("https://adb-1.2.azuredatabricks.net/oidc/v1/token")), "POST /oidc/v1/token")
  })
})

describe("Databricks executor: small parts", () => {
  it("reads Retry-After as seconds or an HTTP date", () => {
    const millis = (text: string | undefined, now = 0) => {
      const d = parseRetryAfter(text, now)
      return d === undefined ? undefined : Duration.toMillis(d)
    }
    assert.strictEqual(millis("3"), 3000)
    assert.strictEqual(millis(" 2 "), 2000)
    assert.strictEqual(millis(new Date(10_000).toUTCString(), 4_000), 6000)
    assert.isUndefined(millis("soon"))
    assert.isUndefined(parseRetryAfter(undefined, 0))
  })

  it.effect("is an Executor layer (engine databricks, Spark dialect) that needs no connection to build", () =>
    Effect.gen(function* () {
      const executor = yield* Executor
      assert.strictEqual(executor.engine, "databricks")
      assert.strictEqual(executor.dialect.name, "spark")
      assert.strictEqual(executor.dialect.table("gold", "kpis"), "`main`.`gold`.`kpis`")
    }).pipe(
      Effect.provide(
        Layer.effect(
          Executor,
          make({
            host: "adb-1.2.azuredatabricks.net",
            warehouseId: "w",
            catalog: "main",
            auth: { _tag: "Token", token: Redacted.make("x") }
          })
        ).pipe(Layer.provide(FetchHttpClient.layer))
      )
    )
  )
})
