/**
 * Reading gold tables for the API, safely. The catalog (information_schema) is the only source of
 * table and column names that reach SQL, quoted by the dialect; every value from a request is
 * checked against its column's type with a Schema and then bound as a statement parameter.
 * Unknown tables, columns and operators, and values of the wrong type, are request errors (4xx)
 * before any SQL runs. Parsing and SQL building are pure; `catalog` and `readPage` do the reading.
 */
import { Effect, Result, Schema, SchemaIssue } from "effect"
import { Base64Url } from "effect/encoding"
import type { Dialect } from "../compile/Dialect.ts"
import { Executor, type ExecutorError, type Param } from "../executor/Executor.ts"
import type { ProblemIssue } from "./problems.ts"

interface CatalogColumn {
  readonly name: string
  readonly type: string
  readonly nullable: boolean
}

export interface CatalogTable {
  /** The table's name in the gold schema. */
  readonly name: string
  readonly columns: ReadonlyArray<CatalogColumn>
}

/** Gold tables and their columns as the warehouse has them, in name order. */
export const catalog: Effect.Effect<ReadonlyArray<CatalogTable>, ExecutorError, Executor> = Effect.gen(function* () {
  const executor = yield* Executor
  const rows = yield* executor.withSession((s) =>
    s.query(`SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
             WHERE table_schema = 'gold' AND table_catalog = current_database() ORDER BY table_name, ordinal_position`)
  )
  const tables = new Map<string, Array<CatalogColumn>>()
  for (const r of rows) {
    const table = String(r["table_name"])
    const columns = tables.get(table) ?? []
    columns.push({ name: String(r["column_name"]), type: String(r["data_type"]), nullable: r["is_nullable"] !== "NO" })
    tables.set(table, columns)
  }
  return [...tables].map(([name, columns]) => ({ name, columns }))
})

// ---------------------------------------------------------------------------------------------
// Column kinds: what a request may do with a column of each type

type Kind = "integer" | "number" | "text" | "boolean" | "date" | "timestamp" | "timestamptz" | "time" | "uuid"

const integerRanges: Record<string, readonly [bigint, bigint]> = {
  TINYINT: [-(2n ** 7n), 2n ** 7n - 1n],
  SMALLINT: [-(2n ** 15n), 2n ** 15n - 1n],
  INTEGER: [-(2n ** 31n), 2n ** 31n - 1n],
  BIGINT: [-(2n ** 63n), 2n ** 63n - 1n],
  HUGEINT: [-(2n ** 127n), 2n ** 127n - 1n],
  UTINYINT: [0n, 2n ** 8n - 1n],
  USMALLINT: [0n, 2n ** 16n - 1n],
  UINTEGER: [0n, 2n ** 32n - 1n],
  UBIGINT: [0n, 2n ** 64n - 1n],
  UHUGEINT: [0n, 2n ** 128n - 1n]
}

/** The kind of a column type, and the type a bound value is cast to (chosen here, never copied from the request). */
const kindOf = (type: string): { readonly kind: Kind; readonly cast: string } | undefined => {
  const t = type.toUpperCase()
  if (t in integerRanges) return { kind: "integer", cast: t }
  if (t === "FLOAT" || t === "DOUBLE" || t === "REAL" || /^DECIMAL\(\d+,\d+\)$/.test(t)) return { kind: "number", cast: "DOUBLE" }
  if (t === "VARCHAR" || /^VARCHAR\(\d+\)$/.test(t)) return { kind: "text", cast: "VARCHAR" }
  if (t === "BOOLEAN") return { kind: "boolean", cast: "BOOLEAN" }
  if (t === "DATE") return { kind: "date", cast: "DATE" }
  if (t === "TIMESTAMP" || t === "TIMESTAMP_S" || t === "TIMESTAMP_MS" || t === "TIMESTAMP_NS") return { kind: "timestamp", cast: "TIMESTAMP" }
  if (t === "TIMESTAMP WITH TIME ZONE") return { kind: "timestamptz", cast: "TIMESTAMPTZ" }
  if (t === "TIME") return { kind: "time", cast: "TIME" }
  if (t === "UUID") return { kind: "uuid", cast: "UUID" }
  return undefined
}

const operators = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "is_null"] as const
type Operator = (typeof operators)[number]
const comparison: Record<Exclude<Operator, "in" | "is_null">, string> = { eq: "=", ne: "<>", gt: ">", gte: ">=", lt: "<", lte: "<=" }
const ordered = new Set<Kind>(["integer", "number", "text", "date", "timestamp", "timestamptz", "time"])

const maxText = 1000
const maxInList = 100
const maxFilters = 32
const maxOrderBy = 8

const validDate = (y: number, m: number, d: number) => {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
  return d <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!
}
const validTime = (h: number, mi: number, s: number) => h < 24 && mi < 60 && s < 60

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/
const timePattern = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?$/
const timestampPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/
const numberPattern = /^[+-]?(?:\d{1,300}(?:\.\d{0,300})?|\.\d{1,300})(?:[eE][+-]?\d{1,3})?$/
const integerPattern = /^[+-]?\d{1,40}$/
const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** A value for a column of `kind`, as the text to bind; a failure says what was expected. */
const valueSchema = (kind: Kind, cast: string): Schema.Codec<string, string> => {
  const expect = (message: string, ok: (s: string) => boolean) => Schema.String.check(Schema.makeFilter((s: string) => (ok(s) ? undefined : message)))
  switch (kind) {
    case "integer": {
      const [min, max] = integerRanges[cast]!
      return expect(`expected a whole number between ${min} and ${max} (${cast})`, (s) => integerPattern.test(s) && BigInt(s) >= min && BigInt(s) <= max)
    }
    case "number":
      return expect("expected a finite number", (s) => numberPattern.test(s) && Number.isFinite(Number(s)))
    case "text":
      return expect(`expected at most ${maxText} characters`, (s) => s.length <= maxText)
    case "boolean":
      return expect("expected true or false", (s) => s === "true" || s === "false")
    case "date":
      return expect("expected a date YYYY-MM-DD", (s) => {
        const m = datePattern.exec(s)
        return m !== null && validDate(Number(m[1]), Number(m[2]), Number(m[3]))
      })
    case "time":
      return expect("expected a time HH:MM[:SS[.ffffff]]", (s) => {
        const m = timePattern.exec(s)
        return m !== null && validTime(Number(m[1]), Number(m[2]), Number(m[3] ?? 0))
      })
    case "timestamp":
    case "timestamptz":
      return expect(
        kind === "timestamp"
          ? "expected a timestamp YYYY-MM-DD[THH:MM[:SS[.ffffff]]] (no offset: this column has no time zone)"
          : "expected a timestamp YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z|+HH:MM] (UTC without an offset)",
        (s) => {
          const m = timestampPattern.exec(s)
          if (m === null || !validDate(Number(m[1]), Number(m[2]), Number(m[3])) || !validTime(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0))) return false
          const offset = m[7]
          if (offset === undefined || offset === "Z") return true
          return kind === "timestamptz" && Number(offset.slice(1, 3)) <= 18
        }
      )
    case "uuid":
      return expect("expected a UUID", (s) => uuidPattern.test(s))
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface Filter {
  readonly column: string
  readonly op: Operator
  /** Texts to bind (one, several for `in`, none for `is_null`). */
  readonly values: ReadonlyArray<string>
  readonly isNull?: boolean | undefined
  readonly cast: string
}

export interface OrderTerm {
  readonly column: string
  readonly descending: boolean
}

export interface GoldRequest {
  readonly table: CatalogTable
  readonly filters: ReadonlyArray<Filter>
  readonly orderBy: ReadonlyArray<OrderTerm>
  readonly limit: number
  readonly offset: number
}

const reserved = new Set(["limit", "offset", "cursor", "order_by"])
const filterKey = /^([^[\]]+)(?:\[([^[\]]*)\])?$/

const formatIssue = SchemaIssue.makeFormatterDefault()
const short = (text: string) => (text.length > 60 ? `${JSON.stringify(text.slice(0, 60))}...` : JSON.stringify(text))

/** The column filters of a query string (every parameter but limit, offset, cursor and order_by). */
export const parseFilters = (
  table: CatalogTable,
  query: Readonly<Record<string, string | ReadonlyArray<string>>>
): Result.Result<ReadonlyArray<Filter>, ReadonlyArray<ProblemIssue>> => {
  const issues: Array<ProblemIssue> = []
  const filters: Array<Filter> = []
  const columns = new Map(table.columns.map((c) => [c.name, c]))
  const keys = Object.keys(query).filter((k) => !reserved.has(k))
  if (keys.length > maxFilters) return Result.fail([{ parameter: "query", message: `at most ${maxFilters} filters` }])
  for (const key of keys) {
    const raw = query[key]!
    const issue = (message: string) => issues.push({ parameter: key.slice(0, 100), message })
    if (typeof raw !== "string") {
      issue("given more than once; use [in] for several values, e.g. country[in]=US,FR")
      continue
    }
    const m = filterKey.exec(key)
    const column = m === null ? undefined : columns.get(m[1]!)
    if (m === null || column === undefined) {
      issue(`no column ${short(m?.[1] ?? key)} in gold.${table.name} (columns: ${table.columns.map((c) => c.name).join(", ")})`)
      continue
    }
    const op = (m[2] ?? "eq") as Operator
    if (!operators.includes(op)) {
      issue(`unknown operator ${short(m[2] ?? "")}; use one of ${operators.join(", ")}`)
      continue
    }
    const kind = kindOf(column.type)
    if (kind === undefined) {
      issue(`column ${column.name} has type ${column.type}, which cannot be filtered on`)
      continue
    }
    if ((op === "gt" || op === "gte" || op === "lt" || op === "lte") && !ordered.has(kind.kind)) {
      issue(`column ${column.name} (${column.type}) takes only eq, ne, in and is_null`)
      continue
    }
    if (op === "is_null") {
      if (raw !== "true" && raw !== "false") issue("is_null takes true or false")
      else filters.push({ column: column.name, op, values: [], isNull: raw === "true", cast: kind.cast })
      continue
    }
    const values = op === "in" ? raw.split(",") : [raw]
    if (values.length > maxInList) {
      issue(`at most ${maxInList} values in [in]`)
      continue
    }
    const decode = Schema.decodeUnknownResult(valueSchema(kind.kind, kind.cast))
    const bad = values.map((v) => [v, decode(v)] as const).find(([, r]) => Result.isFailure(r))
    if (bad !== undefined) {
      const [value, result] = bad
      issue(`${short(value)} is not a valid value for ${column.name} (${column.type}): ${Result.isFailure(result) ? formatIssue(result.failure.issue) : ""}`)
      continue
    }
    filters.push({ column: column.name, op, values, cast: kind.cast })
  }
  return issues.length > 0 ? Result.fail(issues) : Result.succeed(filters)
}

/** `revenue.desc,country`, `-revenue` or `country.asc`: orderable columns of the table only. */
export const parseOrderBy = (table: CatalogTable, text: string | undefined): Result.Result<ReadonlyArray<OrderTerm>, ReadonlyArray<ProblemIssue>> => {
  if (text === undefined || text === "") return Result.succeed([])
  const terms = text.split(",")
  if (terms.length > maxOrderBy) return Result.fail([{ parameter: "order_by", message: `at most ${maxOrderBy} columns` }])
  const columns = new Map(table.columns.map((c) => [c.name, c]))
  const out: Array<OrderTerm> = []
  for (const term of terms) {
    const descending = term.startsWith("-") || term.endsWith(".desc")
    const name = term.replace(/^-/, "").replace(/\.(asc|desc)$/, "")
    const column = columns.get(name)
    if (column === undefined)
      return Result.fail([{ parameter: "order_by", message: `no column ${short(name)} in gold.${table.name} (columns: ${table.columns.map((c) => c.name).join(", ")})` }])
    if (kindOf(column.type) === undefined) return Result.fail([{ parameter: "order_by", message: `column ${column.name} has type ${column.type}, which cannot be ordered by` }])
    if (out.some((o) => o.column === name)) return Result.fail([{ parameter: "order_by", message: `column ${column.name} is named twice` }])
    out.push({ column: name, descending })
  }
  return Result.succeed(out)
}

/** The statement and its parameters: names from the catalog, quoted; values only as $n. */
const selectStatement = (dialect: Dialect, request: GoldRequest): { readonly sql: string; readonly params: ReadonlyArray<Param> } => {
  const params: Array<Param> = []
  const bind = (value: Param) => {
    params.push(value)
    return `$${params.length}`
  }
  const q = dialect.quote
  const conditions = request.filters.map((f) => {
    const column = q(f.column)
    if (f.op === "is_null") return f.isNull === true ? `${column} IS NULL` : `${column} IS NOT NULL`
    if (f.op === "in") return `${column} IN (${f.values.map((v) => `CAST(${bind(v)} AS ${f.cast})`).join(", ")})`
    return `${column} ${comparison[f.op]} CAST(${bind(f.values[0]!)} AS ${f.cast})`
  })
  // Ties broken by every orderable column, so that pages do not overlap or skip rows.
  const named = new Set(request.orderBy.map((o) => o.column))
  const order = [
    ...request.orderBy.map((o) => `${q(o.column)} ${o.descending ? "DESC" : "ASC"} NULLS LAST`),
    ...request.table.columns.filter((c) => !named.has(c.name) && kindOf(c.type) !== undefined).map((c) => `${q(c.name)} ASC NULLS LAST`)
  ]
  const sql = [
    `SELECT ${request.table.columns.map((c) => q(c.name)).join(", ")} FROM ${dialect.table("gold", request.table.name)}`,
    conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`,
    order.length === 0 ? "" : `ORDER BY ${order.join(", ")}`,
    `LIMIT CAST(${bind(String(request.limit + 1))} AS BIGINT) OFFSET CAST(${bind(String(request.offset))} AS BIGINT)`
  ]
    .filter((s) => s !== "")
    .join(" ")
  return { sql, params }
}

/** What makes two requests the same listing: their filters and order, parsed (so `country=US` is `country[eq]=US`). */
export const canonicalQuery = (request: Pick<GoldRequest, "filters" | "orderBy">) =>
  JSON.stringify([
    [...request.filters].map((f) => [f.column, f.op, f.values, f.isNull ?? null]).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    request.orderBy.map((o) => [o.column, o.descending])
  ])

/**
 * A listing as the query string asked for it: the filter parameters (every parameter but limit,
 * offset, cursor and order_by) and order_by. A cursor carries it, so that the cursor alone
 * continues the listing; it is parsed again, like a request's, whenever it is used.
 */
export interface Listing {
  readonly filters: ReadonlyArray<readonly [string, string]>
  readonly orderBy: string
}

/** The listing of a query string (filters given more than once are left for parseFilters to refuse). */
export const listingOf = (query: Readonly<Record<string, string | ReadonlyArray<string>>>, orderBy: string | undefined): Listing => ({
  filters: Object.keys(query)
    .filter((k) => !reserved.has(k))
    .flatMap((k) => {
      const v = query[k]!
      return typeof v === "string" ? [[k, v] as const] : []
    }),
  orderBy: orderBy ?? ""
})

/** A listing's query string, to name it in a message, e.g. `country=US&order_by=revenue.desc` (long values cut short). */
export const describeListing = (listing: Listing): string => {
  const cut = (text: string, most: number) => (text.length > most ? `${text.slice(0, most)}...` : text)
  const parts = [...listing.filters.map(([k, v]) => `${cut(k, 60)}=${cut(v, 60)}`), ...(listing.orderBy === "" ? [] : [`order_by=${cut(listing.orderBy, 100)}`])]
  return parts.length === 0 ? "no filters and no order_by" : cut(parts.join("&"), 600)
}

/** A listing as a query record for parseFilters (no prototype: `__proto__` is a key like any other). */
export const listingQuery = (listing: Listing): Record<string, string> => {
  const out: Record<string, string> = Object.create(null)
  for (const [k, v] of listing.filters) out[k] = v
  return out
}

/**
 * Where the next page starts, and of what: the table, its data version when the cursor was issued
 * (a refresh expires the cursor), the listing and the page size. Base64url JSON, not signed: every
 * part is checked again when it comes back, as a request's would be.
 */
const Cursor = Schema.Struct({
  v: Schema.Literal(2),
  table: Schema.String,
  offset: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1e9 })),
  limit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1e6 })),
  filters: Schema.Array(Schema.Tuple([Schema.String, Schema.String])).check(Schema.isMaxLength(64)),
  order_by: Schema.String,
  version: Schema.String
})
export type Cursor = typeof Cursor.Type

/** The cursors of the first version carried only a digest of the listing; they cannot continue one. */
const CursorV1 = Schema.Struct({ v: Schema.Literal(1) })

export const encodeCursor = (cursor: Omit<Cursor, "v">): string => Base64Url.encode(JSON.stringify({ v: 2, ...cursor }))

/** A cursor this server issued; "old" for one from the first version of the cursor; undefined for anything else. */
export const decodeCursor = (text: string): Cursor | "old" | undefined => {
  const json = Base64Url.decodeString(text)
  if (Result.isFailure(json)) return undefined
  const cursor = Schema.decodeUnknownResult(Schema.fromJsonString(Cursor))(json.success)
  if (Result.isSuccess(cursor)) return cursor.success
  return Result.isSuccess(Schema.decodeUnknownResult(Schema.fromJsonString(CursorV1))(json.success)) ? "old" : undefined
}

/** Reads one page: up to `limit` rows, and whether there are more. */
export const readPage = (request: GoldRequest) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const { sql, params } = selectStatement(executor.dialect, request)
    const rows = yield* executor.withSession((s) =>
      s.queryWith === undefined ? Effect.die(new Error(`the ${executor.engine} executor cannot bind parameters`)) : s.queryWith(sql, params)
    )
    return { rows: rows.slice(0, request.limit), more: rows.length > request.limit }
  })

/** Rows in a gold table (exact). */
export const rowCount = (table: string) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const rows = yield* executor.withSession((s) => s.query(`SELECT count(*) AS n FROM ${executor.dialect.table("gold", table)}`))
    return Number(rows[0]?.["n"] ?? 0)
  })
