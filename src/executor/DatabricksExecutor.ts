/**
 * The Databricks executor: runs statements on a Databricks SQL warehouse through the SQL Statement
 * Execution API (REST, over Effect's HttpClient, so it runs on Node and Deno alike). Owns the
 * statement lifecycle (submit with a wait timeout, poll with capped backoff, cancel on
 * interruption, read every result chunk), decoding rows by the manifest's types, authentication
 * (personal access token, or OAuth machine-to-machine with the token refreshed before it expires)
 * and error classification. Not SQL building (compile/spark.ts).
 *
 * Errors: FAILED and CANCELED statements and rejected requests become ExecutorError. Transient
 * ones (HTTP 429/503; TEMPORARILY_UNAVAILABLE, RESOURCE_EXHAUSTED, SERVICE_UNDER_MAINTENANCE,
 * WORKSPACE_TEMPORARILY_UNAVAILABLE; Delta write conflicts) are first retried here, honouring
 * Retry-After, since a statement that was rejected or failed that way did not commit; when the
 * retries run out they surface as Unavailable, which the runtime's retry policy and circuit
 * breaker act on. Secrets are Redacted and never appear in errors, logs or spans.
 *
 * Sessions: the API is stateless, so a session is a label and `transaction` runs its statements
 * one after another, each committing on its own (see the README's Databricks section).
 */
import { Clock, Duration, Effect, Layer, Option, Redacted, Ref, Schema, Semaphore, type Tracer } from "effect"
import { FetchHttpClient, HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "effect/http"
import { spark } from "../compile/spark.ts"
import * as Secrets from "../secrets/Secrets.ts"
import { Executor, ExecutorError, QueryFailed, type Row, type Session, Unavailable } from "./Executor.ts"
import { traced as statementSpan } from "./statementSpan.ts"

// ---------------------------------------------------------------------------------------------
// Options

export type DatabricksAuth =
  | { readonly _tag: "Token"; readonly token: Redacted.Redacted<string> }
  | { readonly _tag: "OAuth"; readonly clientId: string; readonly clientSecret: Redacted.Redacted<string> }

export interface DatabricksOptions {
  /** The workspace URL, e.g. https://adb-123.4.azuredatabricks.net (https:// is assumed without a scheme). */
  readonly host: string
  readonly warehouseId: string
  readonly auth: DatabricksAuth
  /** Unity Catalog catalog for three-level names, e.g. main. */
  readonly catalog: string
  /** Prepended to the schema names (bronze, silver, gold, _medallion). */
  readonly schemaPrefix?: string | undefined
  /** How long a submit waits for the statement before continuing asynchronously: 0 or 5–50 s (default 10 s). */
  readonly waitTimeout?: Duration.Input | undefined
  /** First and longest pause between status polls (default 250 ms, capped at 5 s). */
  readonly pollInitial?: Duration.Input | undefined
  readonly pollMax?: Duration.Input | undefined
  /** Retries of a rejected request or a transiently failed statement before giving up (default 5). */
  readonly retries?: number | undefined
  /** Backoff between those retries when the answer has no Retry-After (default 1 s doubling, at most 30 s). */
  readonly retryInitial?: Duration.Input | undefined
  readonly retryMax?: Duration.Input | undefined
}

// ---------------------------------------------------------------------------------------------
// The API's JSON, as Schema (fields the executor does not use are ignored)

const ServiceError = Schema.Struct({
  error_code: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
})
const State = Schema.Literals(["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "CLOSED"])
const StatementStatus = Schema.Struct({
  state: State,
  error: Schema.optional(ServiceError),
  sql_state: Schema.optional(Schema.String)
})
const ColumnInfo = Schema.Struct({
  name: Schema.String,
  position: Schema.optional(Schema.Number),
  type_name: Schema.optional(Schema.String),
  type_text: Schema.optional(Schema.String)
})
const Manifest = Schema.Struct({
  format: Schema.optional(Schema.String),
  schema: Schema.optional(
    Schema.Struct({
      column_count: Schema.optional(Schema.Number),
      columns: Schema.optional(Schema.Array(ColumnInfo))
    })
  ),
  total_chunk_count: Schema.optional(Schema.Number),
  total_row_count: Schema.optional(Schema.Number),
  truncated: Schema.optional(Schema.Boolean)
})
const ResultData = Schema.Struct({
  chunk_index: Schema.optional(Schema.Number),
  row_count: Schema.optional(Schema.Number),
  data_array: Schema.optional(Schema.Array(Schema.Array(Schema.NullOr(Schema.String)))),
  next_chunk_index: Schema.optional(Schema.Number),
  next_chunk_internal_link: Schema.optional(Schema.String)
})
export const StatementResponse = Schema.Struct({
  statement_id: Schema.String,
  status: StatementStatus,
  manifest: Schema.optional(Manifest),
  result: Schema.optional(ResultData)
})
export type StatementResponse = typeof StatementResponse.Type
const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.optional(Schema.String),
  expires_in: Schema.Number
})
/** Non-200 bodies: `{error_code, message}` from the API, `{error, error_description}` from the token endpoint. */
const ErrorBody = Schema.Struct({
  error_code: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String),
  error_description: Schema.optional(Schema.String)
})

/** A statement parameter: bound by name to a `:name` marker; `value` undefined or null means NULL. */
export interface StatementParameter {
  readonly name: string
  readonly value?: string | null | undefined
  /** A SQL type, e.g. INT, DECIMAL(12,2); STRING when absent. */
  readonly type?: string | undefined
}

/**
 * Positional markers `$1`, `$2`, ... (outside string literals, identifiers and comments) as named
 * `:p1`, `:p2`, ... with their values as typed parameters, since the API binds by name only.
 */
export const namedParameters = (
  sql: string,
  params: ReadonlyArray<string | number | boolean | null>
): { readonly statement: string; readonly parameters: ReadonlyArray<StatementParameter> } => {
  let statement = ""
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!
    if (c === "'" || c === '"' || c === "`") {
      let j = i + 1
      while (j < sql.length && sql[j] !== c) j += sql[j] === "\\" && c !== "`" ? 2 : 1
      statement += sql.slice(i, j + 1)
      i = j
    } else if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i)
      const j = end === -1 ? sql.length : end
      statement += sql.slice(i, j)
      i = j - 1
    } else if (c === "$" && /[0-9]/.test(sql[i + 1] ?? "")) {
      const digits = /^[0-9]+/.exec(sql.slice(i + 1))![0]
      statement += `:p${digits}`
      i += digits.length
    } else statement += c
  }
  const parameters = params.map(
    (value, i): StatementParameter => ({
      name: `p${i + 1}`,
      ...(value === null ? {} : { value: String(value) }),
      type: typeof value === "number" ? (Number.isInteger(value) ? "BIGINT" : "DOUBLE") : typeof value === "boolean" ? "BOOLEAN" : "STRING"
    })
  )
  return { statement, parameters }
}

// ---------------------------------------------------------------------------------------------
// Classification

const transientCodes = new Set([
  "TEMPORARILY_UNAVAILABLE",
  "RESOURCE_EXHAUSTED",
  "SERVICE_UNDER_MAINTENANCE",
  "WORKSPACE_TEMPORARILY_UNAVAILABLE",
  "REQUEST_LIMIT_EXCEEDED",
  "ABORTED"
])
// Delta's optimistic concurrency: another writer committed first; running the statement again is the fix.
const conflict = /DELTA_CONCURRENT|Concurrent(Append|DeleteRead|DeleteDelete|Transaction)Exception|write-write conflict/i

/** Whether a FAILED statement's error (or a rejected request's body) is worth running again. */
export const isTransientFailure = (errorCode: string | undefined, message: string | undefined): boolean =>
  (errorCode !== undefined && transientCodes.has(errorCode)) || (message !== undefined && conflict.test(message))

/** Seconds or an HTTP date in Retry-After, as a delay. */
export const parseRetryAfter = (value: string | undefined, now: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const seconds = Number(value.trim())
  if (Number.isFinite(seconds) && seconds >= 0) return Duration.seconds(seconds)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - now))
}

/** A row value as the manifest's type says: numbers and booleans as such, LONG and DECIMAL as exact text (as DuckDB's JSON rows). */
export const decodeValue = (value: string | null, typeName: string | undefined): unknown => {
  if (value === null) return null
  switch (typeName) {
    case "BOOLEAN":
      return value === "true"
    case "BYTE":
    case "SHORT":
    case "INT":
    case "FLOAT":
    case "DOUBLE":
      return Number(value)
    case "ARRAY":
    case "MAP":
    case "STRUCT":
      try {
        return JSON.parse(value) as unknown
      } catch {
        return value
      }
    case "NULL":
      return null
    default:
      return value
  }
}

const failed = (statement: string, transient: boolean, detail: string) =>
  new ExecutorError({ statement, reason: transient ? new Unavailable({ detail }) : new QueryFailed({ detail }) })

/**
 * The name of a request's client span, `{method} {url template}` after the OpenTelemetry HTTP
 * conventions: POST /api/2.0/sql/statements, GET /api/2.0/sql/statements/{statement_id}, ...
 */
export const requestSpanName = (request: HttpClientRequest.HttpClientRequest): string => {
  const path = URL.canParse(request.url) ? new URL(request.url).pathname : request.url.split("?")[0]!
  const template = path.replace(/(\/sql\/statements\/)[^/]+/, "$1{statement_id}").replace(/(\/result\/chunks\/)[^/]+/, "$1{chunk_index}")
  return `${request.method} ${template}`
}

// ---------------------------------------------------------------------------------------------
// The run's identity, for query_tags

/** batch_id and table of the run around the current fiber, and its trace id, from the span chain. */
const runTags = Effect.map(Effect.option(Effect.currentSpan), (span) => {
  const tags: Array<{ readonly key: string; readonly value: string }> = []
  if (Option.isNone(span)) return tags
  let batchId: unknown, table: unknown
  let current: Tracer.AnySpan | undefined = span.value
  while (current !== undefined && current._tag === "Span") {
    batchId ??= current.attributes.get("medallion.batch_id")
    table ??= current.attributes.get("medallion.table")
    current = Option.getOrUndefined(current.parent)
  }
  if (typeof batchId === "string") tags.push({ key: "medallion_batch_id", value: batchId })
  if (typeof table === "string") tags.push({ key: "medallion_table", value: table })
  tags.push({ key: "trace_id", value: span.value.traceId })
  return tags
})

// ---------------------------------------------------------------------------------------------
// The executor

export const make = (options: DatabricksOptions) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const client = { execute: (request: HttpClientRequest.HttpClientRequest) => Effect.provideService(http.execute(request), HttpClient.SpanNameGenerator, requestSpanName) }
    const base = (/^https?:\/\//.test(options.host) ? options.host : `https://${options.host}`).replace(/\/+$/, "")
    const dialect = spark({ catalog: options.catalog, schemaPrefix: options.schemaPrefix })
    const waitSeconds = Math.round(Duration.toSeconds(Duration.fromInputUnsafe(options.waitTimeout ?? "10 seconds")))
    if (waitSeconds !== 0 && (waitSeconds < 5 || waitSeconds > 50)) {
      return yield* new ExecutorError({
        statement: "(connect)",
        reason: new QueryFailed({ detail: `databricks wait_timeout must be 0s or between 5s and 50s, not ${waitSeconds}s` })
      })
    }
    const pollInitial = Duration.toMillis(Duration.fromInputUnsafe(options.pollInitial ?? "250 millis"))
    const pollMax = Duration.toMillis(Duration.fromInputUnsafe(options.pollMax ?? "5 seconds"))
    const retries = Math.max(0, options.retries ?? 5)
    const retryInitial = Duration.toMillis(Duration.fromInputUnsafe(options.retryInitial ?? "1 second"))
    const retryMax = Duration.toMillis(Duration.fromInputUnsafe(options.retryMax ?? "30 seconds"))
    const backoff = (attempt: number) => Duration.millis(Math.min(retryMax, retryInitial * 2 ** attempt))
    const where = `Databricks at ${base}`

    // -- auth ------------------------------------------------------------------------------------
    const cached = yield* Ref.make<Option.Option<{ readonly token: Redacted.Redacted<string>; readonly refreshAt: number }>>(Option.none())
    const tokenLock = yield* Semaphore.make(1)
    const auth = options.auth
    // A remote end may echo what it was sent (`Invalid access token Bearer dapi...`): never shown.
    if (auth._tag === "Token") Secrets.register(auth.token)
    else Secrets.register(auth.clientSecret, btoa(`${auth.clientId}:${Redacted.value(auth.clientSecret)}`))

    const errorText = (response: HttpClientResponse.HttpClientResponse) =>
      response.json.pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(ErrorBody)),
        Effect.map((b) => [b.error_code ?? b.error, b.message ?? b.error_description].filter((s) => s !== undefined).join(": ")),
        Effect.orElseSucceed(() => "")
      )

    const fetchToken = (clientId: string, clientSecret: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        const request = HttpClientRequest.post(`${base}/oidc/v1/token`).pipe(
          HttpClientRequest.basicAuth(clientId, clientSecret),
          HttpClientRequest.acceptJson,
          HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials", scope: "all-apis" })
        )
        const response = yield* client.execute(request).pipe(Effect.mapError((e) => failed("(oauth token)", true, `cannot reach ${where} for an OAuth token: ${e.reason._tag}`)))
        if (response.status !== 200) {
          const text = yield* errorText(response)
          const transient = response.status === 429 || response.status === 503
          return yield* failed(
            "(oauth token)",
            transient,
            `${where} refused the OAuth token request (HTTP ${response.status}${text === "" ? "" : ` ${text}`}); ${transient ? "try again later" : "check databricks.client_id and client_secret (or DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET) and that the service principal may use the workspace"}`
          )
        }
        const body = yield* response.json.pipe(
          Effect.flatMap(Schema.decodeUnknownEffect(TokenResponse)),
          Effect.mapError(() => failed("(oauth token)", false, `${where} answered the OAuth token request with an unexpected body`))
        )
        Secrets.register(body.access_token)
        const now = yield* Clock.currentTimeMillis
        // Refresh ahead of expiry: 10% of the lifetime before, at most 5 minutes before.
        const lifetime = body.expires_in * 1000
        return { token: Redacted.make(body.access_token), refreshAt: now + lifetime - Math.min(lifetime / 10, 300_000) }
      })

    const token: Effect.Effect<Redacted.Redacted<string>, ExecutorError> = auth._tag === "Token"
      ? Effect.succeed(auth.token)
      : tokenLock.withPermits(1)(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const current = yield* Ref.get(cached)
            if (Option.isSome(current) && now < current.value.refreshAt) return current.value.token
            const fresh = yield* fetchToken(auth.clientId, auth.clientSecret)
            yield* Ref.set(cached, Option.some(fresh))
            return fresh.token
          })
        )
    const invalidateToken = Ref.set(cached, Option.none())

    // -- requests --------------------------------------------------------------------------------
    /**
     * Sends a request, retrying what is safe to retry: 429/503 (the request was not accepted) after
     * Retry-After or a backoff, a 401 once with a fresh OAuth token, and transport failures of
     * idempotent requests. `pause` wraps the waits and the token fetch (the submit runs inside an
     * uninterruptible region and lets only those be interrupted).
     */
    const send = (
      build: (token: Redacted.Redacted<string>) => HttpClientRequest.HttpClientRequest,
      what: string,
      statement: string,
      opts: {
        readonly idempotent: boolean
        readonly pause?: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
      }
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, ExecutorError> =>
      Effect.gen(function* () {
        const pause = opts.pause ?? ((e) => e)
        let refreshed = false
        for (let attempt = 0; ; attempt++) {
          const bearer = yield* pause(token)
          const outcome = yield* Effect.result(client.execute(build(bearer)))
          if (outcome._tag === "Failure") {
            const error: HttpClientError.HttpClientError = outcome.failure
            if (opts.idempotent && attempt < retries) {
              yield* pause(Effect.sleep(backoff(attempt)))
              continue
            }
            return yield* failed(statement, true, `cannot reach ${where} (${what}: ${error.reason._tag}); check databricks.host and the network`)
          }
          const response = outcome.success
          if (response.status >= 200 && response.status < 300) return response
          const text = yield* errorText(response)
          if (response.status === 401 || response.status === 403) {
            if (auth._tag === "OAuth" && !refreshed) {
              refreshed = true
              yield* invalidateToken
              continue
            }
            return yield* failed(
              statement,
              false,
              `${where} rejected the credentials (HTTP ${response.status}${text === "" ? "" : ` ${text}`}) for ${what}; ${
                auth._tag === "Token"
                  ? "the token may have expired or been revoked: set a valid databricks.token (DATABRICKS_TOKEN)"
                  : "check the service principal's access to the workspace and warehouse"
              }`
            )
          }
          if (response.status === 429 || response.status === 503) {
            if (attempt < retries) {
              const now = yield* Clock.currentTimeMillis
              const hinted = parseRetryAfter(response.headers["retry-after"], now)
              yield* Effect.logDebug(`${what}: HTTP ${response.status}, retrying in ${Duration.format(hinted ?? backoff(attempt))}`)
              yield* pause(Effect.sleep(hinted === undefined ? backoff(attempt) : Duration.max(hinted, Duration.millis(1))))
              continue
            }
            return yield* failed(
              statement,
              true,
              `${where} kept answering HTTP ${response.status}${text === "" ? "" : ` (${text})`} to ${what} after ${retries + 1} attempts; the warehouse is busy or unavailable, try again later`
            )
          }
          const code = text.split(":")[0]
          return yield* failed(statement, isTransientFailure(code, text), `${where} rejected ${what} (HTTP ${response.status}${text === "" ? "" : ` ${text}`})`)
        }
      })

    const decodeStatement = (statement: string) => (response: HttpClientResponse.HttpClientResponse) =>
      response.json.pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(StatementResponse)),
        Effect.mapError((e) => failed(statement, false, `${where} answered with an unexpected body: ${e.message}`))
      )

    const authed = (request: HttpClientRequest.HttpClientRequest) => (bearer: Redacted.Redacted<string>) =>
      request.pipe(HttpClientRequest.bearerToken(bearer), HttpClientRequest.acceptJson)

    const getStatus = (sql: string, id: string) =>
      send(authed(HttpClientRequest.get(`${base}/api/2.0/sql/statements/${encodeURIComponent(id)}`)), "a status poll", sql, { idempotent: true }).pipe(
        Effect.flatMap(decodeStatement(sql))
      )

    // Runs while an interruption waits for it: bounded, and never a failure of its own.
    const cancel = (id: string) =>
      send(authed(HttpClientRequest.post(`${base}/api/2.0/sql/statements/${encodeURIComponent(id)}/cancel`)), "a cancel", "(cancel)", { idempotent: true }).pipe(
        Effect.tap(() => Effect.logDebug(`cancelled statement ${id} on the warehouse`)),
        Effect.timeout("10 seconds"),
        Effect.ignore
      )

    /** Polls until the statement leaves PENDING/RUNNING, pausing longer each time up to pollMax. */
    const settle = (sql: string, first: StatementResponse) =>
      Effect.gen(function* () {
        let current = first
        let delay = pollInitial
        while (current.status.state === "PENDING" || current.status.state === "RUNNING") {
          yield* Effect.sleep(Duration.millis(delay))
          delay = Math.min(pollMax, delay * 2)
          current = yield* getStatus(sql, current.statement_id)
        }
        return current
      })

    /** Every row of a succeeded statement: chunk 0 from the response, the rest by next_chunk_internal_link. */
    const readRows = (sql: string, done: StatementResponse) =>
      Effect.gen(function* () {
        const columns = done.manifest?.schema?.columns ?? []
        const rows: Array<ReadonlyArray<string | null>> = [...(done.result?.data_array ?? [])]
        let link = done.result?.next_chunk_internal_link
        while (link !== undefined) {
          const chunk = yield* send(authed(HttpClientRequest.get(`${base}${link}`)), "a result chunk", sql, { idempotent: true }).pipe(
            Effect.flatMap((r) => r.json),
            Effect.flatMap(Schema.decodeUnknownEffect(ResultData)),
            Effect.mapError((e) => (e instanceof ExecutorError ? e : failed(sql, false, `${where} sent a result chunk that is not valid: ${e.message}`)))
          )
          rows.push(...(chunk.data_array ?? []))
          link = chunk.next_chunk_internal_link
        }
        if (done.manifest?.truncated === true) {
          return yield* failed(sql, false, `${where} truncated the result of the statement (INLINE results are limited to 25 MiB); select fewer rows`)
        }
        return rows.map((row): Row => Object.fromEntries(columns.map((c, i) => [c.name, decodeValue(row[i] ?? null, c.type_name)])))
      })

    /** Runs one statement to the end: its rows, or a typed error. Interrupting it cancels it on the warehouse. */
    const runStatement = (sql: string, parameters: ReadonlyArray<StatementParameter> = []) =>
      Effect.gen(function* () {
        for (let attempt = 0; ; attempt++) {
          const tags = yield* runTags
          const body = {
            statement: sql,
            warehouse_id: options.warehouseId,
            catalog: options.catalog,
            wait_timeout: `${waitSeconds}s`,
            on_wait_timeout: "CONTINUE",
            disposition: "INLINE",
            format: "JSON_ARRAY",
            ...(parameters.length > 0 ? { parameters } : {}),
            query_tags: tags
          }
          const outcome = yield* Effect.uninterruptibleMask((restore) =>
            Effect.gen(function* () {
              // The HTTP call stays uninterruptible (we are inside the mask): once the warehouse has
              // the statement we always learn its id, so an interruption can cancel it.
              const response = yield* send(authed(HttpClientRequest.post(`${base}/api/2.0/sql/statements`).pipe(HttpClientRequest.bodyJsonUnsafe(body))), "a statement", sql, {
                idempotent: false,
                pause: restore
              })
              const submitted = yield* decodeStatement(sql)(response)
              yield* Effect.annotateCurrentSpan("databricks.statement_id", submitted.statement_id)
              return yield* restore(settle(sql, submitted)).pipe(Effect.onInterrupt(() => cancel(submitted.statement_id)))
            })
          )
          const state = outcome.status.state
          if (state === "SUCCEEDED") return yield* readRows(sql, outcome)
          const code = outcome.status.error?.error_code
          const message = outcome.status.error?.message
          const detail =
            state === "FAILED"
              ? `the statement failed on ${where}: ${[code, message].filter((s) => s !== undefined).join(": ")}${outcome.status.sql_state === undefined ? "" : ` (SQLSTATE ${outcome.status.sql_state})`}`
              : state === "CANCELED"
                ? `the statement was canceled on ${where} (by someone else, or the warehouse stopped it)`
                : `the statement's result is no longer available on ${where} (state ${state})`
          const transient = state === "FAILED" && isTransientFailure(code, message)
          // A statement that failed transiently did not commit: running it again is safe.
          if (transient && attempt < retries) {
            yield* Effect.logDebug(`${detail}; retrying`)
            yield* Effect.sleep(backoff(attempt))
            continue
          }
          return yield* failed(sql, transient, detail)
        }
      })

    const traced = (sql: string) => statementSpan(sql, "spark", { "db.system.name": "databricks", "db.namespace": options.catalog })

    const execute = (sql: string) =>
      runStatement(sql).pipe(
        Effect.map((rows) => Number(rows[0]?.["num_affected_rows"] ?? 0)),
        Effect.tap((n) => Effect.annotateCurrentSpan("db.response.affected_rows", n)),
        traced(sql)
      )
    const query = (sql: string) =>
      runStatement(sql).pipe(
        Effect.tap((rows) => Effect.annotateCurrentSpan("db.response.returned_rows", rows.length)),
        traced(sql)
      )
    /** A query with values bound as named parameters, never spliced into the text. */
    const queryWith = (sql: string, params: ReadonlyArray<string | number | boolean | null>) => {
      const bound = namedParameters(sql, params)
      return runStatement(bound.statement, bound.parameters).pipe(
        Effect.tap((rows) => Effect.annotateCurrentSpan("db.response.returned_rows", rows.length)),
        traced(sql)
      )
    }
    // Each statement commits on its own over the stateless API: no BEGIN/COMMIT to send.
    const session: Session = { execute, query, transaction: (effect) => effect, ...{ queryWith } }

    return Object.assign(
      Executor.of({
        engine: "databricks",
        dialect,
        withSession: (use) => use(session),
        healthCheck: query("SELECT 1 AS ok").pipe(Effect.asVoid)
      }),
      { runStatement }
    )
  })

/** The executor over a given HttpClient (tests can provide their own). */
export const layer = (options: DatabricksOptions): Layer.Layer<Executor, ExecutorError, HttpClient.HttpClient> => Layer.effect(Executor, make(options))

/** The executor over fetch (Node and Deno). */
export const layerFetch = (options: DatabricksOptions): Layer.Layer<Executor, ExecutorError> => layer(options).pipe(Layer.provide(FetchHttpClient.layer))
