/**
 * A LOCAL STAND-IN FOR A DATABRICKS SQL WAREHOUSE, for tests only. It is not Databricks: it speaks
 * the documented SQL Statement Execution API (2.0) and the workspace OAuth token endpoint on
 * 127.0.0.1, and runs each statement on a real DuckDB after translating the Spark SQL medallion
 * sends (rewrite.ts lists every rewrite). Tests start it on an ephemeral port.
 *
 * What it implements of the contract:
 * - POST /api/2.0/sql/statements: statement, warehouse_id, catalog, parameters (named `:markers`),
 *   wait_timeout ("0s" or "5s".."50s"), on_wait_timeout (CONTINUE | CANCEL), query_tags; INLINE +
 *   JSON_ARRAY only. Answers within the wait timeout with the final state, else PENDING/RUNNING.
 * - GET /api/2.0/sql/statements/{id}: status; on SUCCEEDED the manifest and chunk 0.
 * - GET /api/2.0/sql/statements/{id}/result/chunks/{n}: chunk n, with next_chunk_internal_link.
 * - POST /api/2.0/sql/statements/{id}/cancel: `{}`; the statement ends CANCELED unless it finished.
 * - POST /oidc/v1/token: client_credentials with HTTP Basic client id and secret.
 * - Bearer auth on every API call (a personal access token, or a token it issued).
 * - Values as strings (or null) in rows; types in the manifest, mapped from DuckDB's.
 * - Execution failures are HTTP 200 with state FAILED and status.error {error_code, message}.
 *
 * Faults on demand (StandIn.faults): 429 with Retry-After, 503 TEMPORARILY_UNAVAILABLE, slow
 * statements, FAILED statements with any error code, expired tokens, and 401 answers that echo
 * the credentials they were sent (as some gateways do).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdirSync, rmSync } from "node:fs"
import { randomUUID } from "node:crypto"
import { type DuckDBConnection, DuckDBInstance, type DuckDBResultReader } from "@duckdb/node-api"
import { macros, type Parameter, rewrite, RewriteError } from "./rewrite.ts"

export interface StandInOptions {
  /** The catalog name the DuckDB database is attached under (three-level names start with it). */
  readonly catalog: string
  /** A DuckDB file to keep the data in; in memory when absent. */
  readonly databasePath?: string | undefined
  readonly warehouseId?: string | undefined
  /** The personal access token it accepts. */
  readonly token?: string | undefined
  /** OAuth M2M clients it accepts: client id -> secret. */
  readonly clients?: Readonly<Record<string, string>> | undefined
  /** Lifetime of issued OAuth tokens (default 3600 s). */
  readonly tokenLifetimeSeconds?: number | undefined
  /** Rows per result chunk (default 1000); small values exercise chunking. */
  readonly rowsPerChunk?: number | undefined
}

type State = "PENDING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELED"
type Match = string | RegExp | ((sql: string) => boolean)

interface Column {
  readonly name: string
  readonly position: number
  readonly type_name: string
  readonly type_text: string
  readonly type_precision?: number
  readonly type_scale?: number
}

interface Statement {
  readonly id: string
  readonly sql: string
  state: State
  error?: { readonly error_code: string; readonly message: string } | undefined
  sqlState?: string | undefined
  columns: ReadonlyArray<Column>
  rows: ReadonlyArray<ReadonlyArray<string | null>>
  readonly done: Promise<void>
  cancel: () => void
}

interface Submitted {
  readonly statement: string
  readonly parameters: ReadonlyArray<Parameter>
  readonly query_tags: ReadonlyArray<{ readonly key: string; readonly value?: string | undefined }>
  readonly wait_timeout: string | undefined
  readonly on_wait_timeout: string | undefined
  readonly catalog: string | undefined
}

interface HttpFault {
  remaining: number
  readonly status: 429 | 503
  readonly retryAfter: number | undefined
  readonly on: "submit" | "poll" | "any"
}
interface StatementFault {
  remaining: number
  readonly match: Match
  readonly delayMs?: number | undefined
  readonly error?: { readonly error_code: string; readonly message: string; readonly sqlState?: string | undefined } | undefined
}

export interface StandIn {
  readonly url: string
  readonly host: string
  readonly faults: {
    /** The next `times` requests (of the kind `on`, default submit) get 429 with Retry-After. */
    readonly rateLimit: (times: number, retryAfterSeconds?: number, on?: HttpFault["on"]) => void
    /** The next `times` requests get 503 TEMPORARILY_UNAVAILABLE (with Retry-After when given). */
    readonly unavailable: (times: number, retryAfterSeconds?: number, on?: HttpFault["on"]) => void
    /** Matching statements wait `delayMs` (RUNNING) before they run; `times` defaults to all. */
    readonly slow: (match: Match, delayMs: number, times?: number) => void
    /** Matching statements end FAILED with this error, `times` times (default once). */
    readonly fail: (match: Match, error: { readonly error_code: string; readonly message: string; readonly sqlState?: string }, times?: number) => void
    /** Every token issued so far, and the personal access token, stop being accepted. */
    readonly expireTokens: () => void
    /**
     * Submits of matching statements are refused, `times` times (default all), with HTTP 401 whose
     * message echoes the request's Authorization header: `Invalid access token Bearer dapi...`.
     */
    readonly rejectEchoingCredentials: (match: Match, times?: number) => void
    readonly clear: () => void
  }
  /** What it received, in order. */
  readonly log: {
    readonly submitted: ReadonlyArray<Submitted>
    readonly requests: ReadonlyArray<{ readonly method: string; readonly path: string; readonly status: number; readonly authorization: string | undefined }>
    readonly cancels: ReadonlyArray<string>
    /** Statements that ended FAILED, with their error code. */
    readonly failures: ReadonlyArray<{ readonly statement: string; readonly error_code: string }>
    readonly tokenRequests: number
    readonly states: (id: string) => State | undefined
  }
  /** Runs DuckDB SQL directly on the stand-in's database (for assertions). */
  readonly query: (sql: string) => Promise<ReadonlyArray<Record<string, unknown>>>
  readonly close: () => Promise<void>
}

const matches = (match: Match, sql: string) => (typeof match === "string" ? sql.includes(match) : match instanceof RegExp ? match.test(sql) : match(sql))

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true }
    )
  })

/** DuckDB's type as the Statement Execution API names it (type_name, type_text). */
const columnOf = (name: string, position: number, duckType: string): Column => {
  const t = duckType.toUpperCase()
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t)
  if (decimal !== null) {
    return { name, position, type_name: "DECIMAL", type_text: `DECIMAL(${decimal[1]},${decimal[2]})`, type_precision: Number(decimal[1]), type_scale: Number(decimal[2]) }
  }
  const simple = (type_name: string, type_text = type_name): Column => ({ name, position, type_name, type_text })
  if (t.endsWith("[]")) return simple("ARRAY", `ARRAY<${columnOf(name, position, t.slice(0, -2)).type_text}>`)
  if (t.startsWith("STRUCT")) return simple("STRUCT", t)
  if (t.startsWith("MAP")) return simple("MAP", t)
  switch (t) {
    case "BOOLEAN":
      return simple("BOOLEAN")
    case "TINYINT":
      return simple("BYTE", "TINYINT")
    case "SMALLINT":
    case "UTINYINT":
      return simple("SHORT", "SMALLINT")
    case "INTEGER":
    case "USMALLINT":
      return simple("INT")
    case "BIGINT":
    case "UINTEGER":
      return simple("LONG", "BIGINT")
    case "HUGEINT":
    case "UBIGINT":
    case "UHUGEINT":
      return { name, position, type_name: "DECIMAL", type_text: "DECIMAL(38,0)", type_precision: 38, type_scale: 0 }
    case "FLOAT":
      return simple("FLOAT")
    case "DOUBLE":
      return simple("DOUBLE")
    case "DATE":
      return simple("DATE")
    case "INTERVAL":
      return simple("INTERVAL")
    case "BLOB":
      return simple("BINARY")
    case '"NULL"':
    case "NULL":
      return simple("NULL", "VOID")
    default:
      return t.startsWith("TIMESTAMP") ? simple("TIMESTAMP") : simple("STRING")
  }
}

/** A value as JSON_ARRAY sends it: text or null; timestamps in ISO 8601 UTC. */
const cell = (value: unknown, column: Column): string | null => {
  if (value === null || value === undefined) return null
  if (typeof value === "string") {
    if (column.type_name === "TIMESTAMP") {
      const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?(\+00)?$/.exec(value)
      if (m !== null) return `${m[1]}T${m[2]}${(m[3] ?? ".000").padEnd(4, "0").slice(0, 4)}Z`
    }
    return value
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  return JSON.stringify(value)
}

const queryKeywords = new Set(["SELECT", "WITH", "DESCRIBE", "SHOW", "VALUES", "FROM", "("])
const leadingKeyword = (sql: string) => /^\s*(\(|[A-Za-z]+)/.exec(sql.replace(/^\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/)*/g, ""))?.[1]?.toUpperCase() ?? ""

/** The SQLSTATE and error code Databricks would give for a DuckDB error message. */
const classify = (message: string): { readonly error_code: string; readonly sqlState: string | undefined } => {
  if (/Conflict|write-write|TransactionContext/i.test(message)) return { error_code: "ABORTED", sqlState: "40001" }
  if (/^Catalog Error/.test(message)) return { error_code: "BAD_REQUEST", sqlState: "42P01" }
  if (/^Parser Error/.test(message)) return { error_code: "BAD_REQUEST", sqlState: "42601" }
  if (/^Binder Error/.test(message)) return { error_code: "BAD_REQUEST", sqlState: "42703" }
  if (/^(Conversion|Invalid Input) Error/.test(message)) return { error_code: "BAD_REQUEST", sqlState: "22018" }
  return { error_code: "BAD_REQUEST", sqlState: undefined }
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const parseWait = (text: unknown): number | undefined => {
  if (text === undefined) return 10_000
  const m = typeof text === "string" ? /^(\d+)s$/.exec(text) : null
  if (m === null) return undefined
  const seconds = Number(m[1])
  return seconds === 0 || (seconds >= 5 && seconds <= 50) ? seconds * 1000 : undefined
}

/** Starts the stand-in on 127.0.0.1 at an ephemeral port. */
export const startStandIn = async (options: StandInOptions): Promise<StandIn> => {
  const instance = await DuckDBInstance.create(":memory:")
  const setup = await instance.connect()
  const catalog = `"${options.catalog.replaceAll('"', '""')}"`
  await setup.run(`ATTACH '${(options.databasePath ?? ":memory:").replaceAll("'", "''")}' AS ${catalog}`)
  await setup.run(`USE ${catalog}`)
  for (const m of macros) await setup.run(m.replace("MACRO ", `MACRO ${catalog}.main.`))
  setup.closeSync()

  const rowsPerChunk = Math.max(1, options.rowsPerChunk ?? 1000)
  const lifetime = options.tokenLifetimeSeconds ?? 3600
  const statements = new Map<string, Statement>()
  const issued = new Map<string, number>() // token -> expiry (ms)
  let patExpired = false
  let httpFaults: Array<HttpFault> = []
  let statementFaults: Array<StatementFault> = []
  let echoFaults: Array<{ remaining: number; readonly match: Match }> = []
  const submitted: Array<Submitted> = []
  const requests: Array<{ method: string; path: string; status: number; authorization: string | undefined }> = []
  const cancels: Array<string> = []
  const failures: Array<{ statement: string; error_code: string }> = []
  let tokenRequests = 0
  // A pool: closing a connection (synchronously) while another runs can deadlock the event loop.
  const connections = new Set<DuckDBConnection>()
  const idle: Array<DuckDBConnection> = []

  const connect = async () => {
    const pooled = idle.pop()
    if (pooled !== undefined) return pooled
    const connection = await instance.connect()
    await connection.run(`USE ${catalog}`)
    connections.add(connection)
    return connection
  }
  const release = (connection: DuckDBConnection) => {
    idle.push(connection)
  }

  const takeStatementFault = (sql: string, kind: "delay" | "error") => {
    const fault = statementFaults.find((f) => f.remaining > 0 && (kind === "delay" ? f.delayMs !== undefined : f.error !== undefined) && matches(f.match, sql))
    if (fault !== undefined) fault.remaining--
    return fault
  }

  const run = (st: Statement, parameters: ReadonlyArray<Parameter>, signal: AbortSignal) => async () => {
    await new Promise((r) => setImmediate(r))
    if (signal.aborted) return
    st.state = "RUNNING"
    const delay = takeStatementFault(st.sql, "delay")
    if (delay?.delayMs !== undefined) await sleep(delay.delayMs, signal)
    if (signal.aborted) return
    const injected = takeStatementFault(st.sql, "error")
    if (injected?.error !== undefined) {
      st.state = "FAILED"
      failures.push({ statement: st.sql, error_code: injected.error.error_code })
      st.error = { error_code: injected.error.error_code, message: injected.error.message }
      st.sqlState = injected.error.sqlState
      return
    }
    let translated: string
    try {
      translated = rewrite(st.sql, parameters)
    } catch (error) {
      st.state = "FAILED"
      failures.push({ statement: st.sql, error_code: "BAD_REQUEST" })
      st.error = { error_code: "BAD_REQUEST", message: `[STAND_IN_UNSUPPORTED] ${error instanceof RewriteError ? error.message : String(error)}` }
      return
    }
    const directory = /^COPY \([\s\S]*\) TO '((?:[^']|'')*)\/part-00000\.\w+'/.exec(translated)
    if (directory !== null) {
      // OVERWRITE: whatever is at the path (a file or a directory) is replaced.
      const target = directory[1]!.replaceAll("''", "'")
      rmSync(target, { recursive: true, force: true })
      mkdirSync(target, { recursive: true })
    }
    const connection = await connect()
    const onAbort = () => connection.interrupt()
    signal.addEventListener("abort", onAbort, { once: true })
    try {
      const reader: DuckDBResultReader = await connection.runAndReadAll(translated)
      if (signal.aborted) return
      const keyword = leadingKeyword(st.sql)
      if (queryKeywords.has(keyword)) {
        const types = reader.columnTypes().map((t) => t.toString())
        st.columns = reader.columnNames().map((name, i) => columnOf(name, i, types[i]!))
        st.rows = (reader.getRowsJson() as ReadonlyArray<ReadonlyArray<unknown>>).map((row) => row.map((v, i) => cell(v, st.columns[i]!)))
        // DESCRIBE QUERY names Spark types (string, decimal(12,2), array<string>, ...).
        if (/^\s*DESCRIBE\s+QUERY\b/i.test(st.sql))
          st.rows = st.rows.map(([name, type, comment]) => [name ?? null, type == null ? null : columnOf("", 0, type).type_text.toLowerCase(), comment ?? null])
      } else if (["INSERT", "MERGE", "UPDATE", "DELETE"].includes(keyword) || /^\s*CREATE\s+(OR\s+REPLACE\s+)?TABLE\b[\s\S]*?\bAS\s+(SELECT|WITH|\()/i.test(st.sql)) {
        const counted = reader.columnNames()[0] === "Count" ? String(reader.getRowsJson()[0]?.[0] ?? "0") : String(reader.rowsChanged)
        const long = (name: string, i: number) => columnOf(name, i, "BIGINT")
        if (keyword === "MERGE") {
          st.columns = ["num_affected_rows", "num_updated_rows", "num_deleted_rows", "num_inserted_rows"].map(long)
          st.rows = [[counted, null, null, null]] // the stand-in does not know the split
        } else if (keyword === "UPDATE" || keyword === "DELETE") {
          st.columns = [long("num_affected_rows", 0)]
          st.rows = [[counted]]
        } else {
          st.columns = [long("num_affected_rows", 0), long("num_inserted_rows", 1)]
          st.rows = [[counted, counted]]
        }
      }
      st.state = "SUCCEEDED"
    } catch (error) {
      if (signal.aborted) return
      const message = error instanceof Error ? error.message : String(error)
      const { error_code, sqlState } = classify(message)
      failures.push({ statement: st.sql, error_code })
      st.state = "FAILED"
      st.error = { error_code, message }
      st.sqlState = sqlState
    } finally {
      signal.removeEventListener("abort", onAbort)
      release(connection)
    }
  }

  const chunk = (st: Statement, index: number) => {
    const rows = st.rows.slice(index * rowsPerChunk, (index + 1) * rowsPerChunk)
    const count = Math.ceil(st.rows.length / rowsPerChunk)
    return {
      chunk_index: index,
      row_offset: index * rowsPerChunk,
      row_count: rows.length,
      data_array: rows,
      ...(index + 1 < count ? { next_chunk_index: index + 1, next_chunk_internal_link: `/api/2.0/sql/statements/${st.id}/result/chunks/${index + 1}` } : {})
    }
  }

  const response = (st: Statement) => {
    const status = {
      state: st.state,
      ...(st.error === undefined ? {} : { error: st.error }),
      ...(st.state === "FAILED" && st.sqlState !== undefined ? { sql_state: st.sqlState } : {})
    }
    if (st.state !== "SUCCEEDED") return { statement_id: st.id, status }
    const count = Math.ceil(st.rows.length / rowsPerChunk)
    return {
      statement_id: st.id,
      status,
      manifest: {
        format: "JSON_ARRAY",
        schema: { column_count: st.columns.length, columns: st.columns },
        total_chunk_count: count,
        total_row_count: st.rows.length,
        chunks: Array.from({ length: count }, (_, i) => ({ chunk_index: i, row_offset: i * rowsPerChunk, row_count: Math.min(rowsPerChunk, st.rows.length - i * rowsPerChunk) })),
        truncated: false
      },
      result: count === 0 ? {} : chunk(st, 0)
    }
  }

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization
    if (header === undefined || !header.startsWith("Bearer ")) return false
    const token = header.slice("Bearer ".length)
    if (options.token !== undefined && token === options.token) return !patExpired
    const expiry = issued.get(token)
    return expiry !== undefined && expiry > Date.now()
  }

  const takeHttpFault = (kind: "submit" | "poll") => {
    const fault = httpFaults.find((f) => f.remaining > 0 && (f.on === "any" || f.on === kind))
    if (fault !== undefined) fault.remaining--
    return fault
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const path = url.pathname
    const method = req.method ?? "GET"
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      requests.push({ method, path, status, authorization: req.headers.authorization })
      send(res, status, body, headers)
    }
    const body = await readBody(req)

    if (method === "POST" && path === "/oidc/v1/token") {
      tokenRequests++
      const basic = req.headers.authorization?.startsWith("Basic ") === true ? Buffer.from(req.headers.authorization.slice(6), "base64").toString("utf8") : ""
      const [id, secret] = [basic.slice(0, basic.indexOf(":")), basic.slice(basic.indexOf(":") + 1)]
      const form = new URLSearchParams(body)
      if (form.get("grant_type") !== "client_credentials") return reply(400, { error: "unsupported_grant_type", error_description: "only client_credentials" })
      if (options.clients?.[id] === undefined || options.clients[id] !== secret) return reply(401, { error: "invalid_client", error_description: "Client authentication failed" })
      const token = `stand-in-${randomUUID()}`
      issued.set(token, Date.now() + lifetime * 1000)
      return reply(200, { access_token: token, token_type: "Bearer", expires_in: lifetime, scope: form.get("scope") ?? "all-apis" })
    }

    if (!authorized(req)) return reply(401, { error_code: "UNAUTHENTICATED", message: "Invalid access token." })

    const statusMatch = /^\/api\/2\.0\/sql\/statements\/([^/]+)$/.exec(path)
    const chunkMatch = /^\/api\/2\.0\/sql\/statements\/([^/]+)\/result\/chunks\/(\d+)$/.exec(path)
    const cancelMatch = /^\/api\/2\.0\/sql\/statements\/([^/]+)\/cancel$/.exec(path)
    const injected = takeHttpFault(method === "POST" && path === "/api/2.0/sql/statements" ? "submit" : "poll")
    if (injected !== undefined) {
      return reply(
        injected.status,
        injected.status === 429
          ? { error_code: "REQUEST_LIMIT_EXCEEDED", message: "Too many requests (injected by the stand-in)" }
          : { error_code: "TEMPORARILY_UNAVAILABLE", message: "The service is temporarily unavailable (injected by the stand-in)" },
        injected.retryAfter === undefined ? {} : { "retry-after": String(injected.retryAfter) }
      )
    }

    if (method === "POST" && path === "/api/2.0/sql/statements") {
      let request: Record<string, unknown>
      try {
        request = JSON.parse(body) as Record<string, unknown>
      } catch {
        return reply(400, { error_code: "MALFORMED_REQUEST", message: "body is not JSON" })
      }
      if (typeof request["statement"] !== "string" || typeof request["warehouse_id"] !== "string") {
        return reply(400, { error_code: "INVALID_PARAMETER_VALUE", message: "statement and warehouse_id are required" })
      }
      if (options.warehouseId !== undefined && request["warehouse_id"] !== options.warehouseId) {
        return reply(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: `warehouse ${String(request["warehouse_id"])} does not exist` })
      }
      const wait = parseWait(request["wait_timeout"])
      if (wait === undefined) return reply(400, { error_code: "INVALID_PARAMETER_VALUE", message: "wait_timeout must be 0s or between 5s and 50s" })
      if ((request["disposition"] ?? "INLINE") !== "INLINE" || (request["format"] ?? "JSON_ARRAY") !== "JSON_ARRAY") {
        return reply(400, { error_code: "INVALID_PARAMETER_VALUE", message: "the stand-in supports disposition INLINE with format JSON_ARRAY only" })
      }
      const echo = echoFaults.find((f) => f.remaining > 0 && matches(f.match, request["statement"] as string))
      if (echo !== undefined) {
        echo.remaining--
        return reply(401, { error_code: "UNAUTHENTICATED", message: `Invalid access token ${req.headers.authorization ?? ""}` })
      }
      const parameters = (request["parameters"] ?? []) as ReadonlyArray<Parameter>
      submitted.push({
        statement: request["statement"],
        parameters,
        query_tags: (request["query_tags"] ?? []) as Submitted["query_tags"],
        wait_timeout: request["wait_timeout"] as string | undefined,
        on_wait_timeout: request["on_wait_timeout"] as string | undefined,
        catalog: request["catalog"] as string | undefined
      })
      const controller = new AbortController()
      const st: Statement = {
        id: randomUUID(),
        sql: request["statement"],
        state: "PENDING",
        columns: [],
        rows: [],
        done: Promise.resolve(),
        cancel: () => {
          if (st.state === "PENDING" || st.state === "RUNNING") {
            st.state = "CANCELED"
            controller.abort()
          }
        }
      }
      statements.set(st.id, st)
      Object.assign(st, { done: run(st, parameters, controller.signal)() })
      if (wait > 0) {
        await Promise.race([st.done, new Promise((r) => setTimeout(r, wait))])
        if ((st.state === "PENDING" || st.state === "RUNNING") && request["on_wait_timeout"] === "CANCEL") st.cancel()
      }
      return reply(200, response(st))
    }

    const id = (statusMatch ?? chunkMatch ?? cancelMatch)?.[1]
    const st = id === undefined ? undefined : statements.get(id)
    if (id !== undefined && st === undefined) return reply(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: `statement ${id} not found` })
    if (method === "GET" && statusMatch !== null) return reply(200, response(st!))
    if (method === "GET" && chunkMatch !== null) {
      const index = Number(chunkMatch[2])
      if (st!.state !== "SUCCEEDED" || index >= Math.ceil(st!.rows.length / rowsPerChunk)) {
        return reply(400, { error_code: "INVALID_PARAMETER_VALUE", message: `no chunk ${index} for statement ${id}` })
      }
      return reply(200, chunk(st!, index))
    }
    if (method === "POST" && cancelMatch !== null) {
      cancels.push(id!)
      st!.cancel()
      return reply(200, {})
    }
    return reply(404, { error_code: "ENDPOINT_NOT_FOUND", message: `no endpoint ${method} ${path}` })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { error_code: "INTERNAL_ERROR", message: String(error) }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const host = `127.0.0.1:${port}`

  return {
    url: `http://${host}`,
    host,
    faults: {
      rateLimit: (times, retryAfter, on = "submit") => httpFaults.push({ remaining: times, status: 429, retryAfter, on }),
      unavailable: (times, retryAfter, on = "submit") => httpFaults.push({ remaining: times, status: 503, retryAfter, on }),
      slow: (match, delayMs, times = Number.POSITIVE_INFINITY) => statementFaults.push({ remaining: times, match, delayMs }),
      fail: (match, error, times = 1) => statementFaults.push({ remaining: times, match, error }),
      expireTokens: () => {
        patExpired = true
        for (const token of issued.keys()) issued.set(token, 0)
      },
      rejectEchoingCredentials: (match, times = Number.POSITIVE_INFINITY) => echoFaults.push({ remaining: times, match }),
      clear: () => {
        httpFaults = []
        statementFaults = []
        echoFaults = []
        patExpired = false
      }
    },
    log: {
      submitted,
      requests,
      cancels,
      failures,
      get tokenRequests() {
        return tokenRequests
      },
      states: (id) => statements.get(id)?.state
    },
    query: async (sql) => {
      const connection = await connect()
      try {
        return (await connection.runAndReadAll(sql)).getRowObjectsJson() as ReadonlyArray<Record<string, unknown>>
      } finally {
        release(connection)
      }
    },
    close: async () => {
      for (const st of statements.values()) st.cancel()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
      for (const c of connections) c.closeSync()
      instance.closeSync()
    }
  }
}
