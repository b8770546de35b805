/**
 * How a gold value is written in the API's JSON, by its column's type: integers that a double
 * holds exactly as numbers and larger ones as strings, decimals by their significant digits,
 * dates and timestamps as ISO 8601, lists, structs and maps element by element. Pure: it shapes
 * the rows the executor read (gold.ts) and never reads anything itself. Filters (what a request
 * may send) are gold.ts's.
 */

/** What a column's type says about the JSON of its values. */
export type ValueType =
  | { readonly _tag: "Integer" }
  | { readonly _tag: "Decimal" }
  | { readonly _tag: "Float" }
  | { readonly _tag: "Date" }
  | { readonly _tag: "Timestamp"; readonly zoned: boolean }
  | { readonly _tag: "Interval" }
  | { readonly _tag: "List"; readonly element: ValueType }
  | { readonly _tag: "Struct"; readonly fields: ReadonlyMap<string, ValueType> }
  | { readonly _tag: "Map"; readonly key: ValueType; readonly value: ValueType }
  /** Booleans, text, UUIDs, times and anything else: as the engine gives them. */
  | { readonly _tag: "AsIs" }

/**
 * The shapes, as the OpenAPI document and the README state them. Keep in step with `shape`.
 */
export const valueShapesDescription = [
  "Rows as objects, one key per column. Values by column type:",
  'integers (TINYINT to HUGEINT, signed and unsigned) are JSON numbers when they lie within ±9007199254740991 (2^53 - 1, what a double holds exactly) and decimal strings beyond it, e.g. "9007199254740993", so one column may hold both;',
  "DECIMAL values are numbers when they have at most 15 significant digits (always so for DECIMAL(p,s) with p <= 15) and strings of their exact digits otherwise;",
  'FLOAT and DOUBLE are numbers, with "NaN", "Infinity" and "-Infinity" as strings;',
  "DATE is YYYY-MM-DD;",
  "TIMESTAMP WITH TIME ZONE is ISO 8601 in UTC with Z, e.g. 2024-05-02T07:30:00Z;",
  "TIMESTAMP (no time zone) is ISO 8601 without an offset, e.g. 2024-05-02T07:30:00: the date and time as stored, in whatever zone the pipeline wrote them (a filter takes the same form);",
  'fractional seconds are kept (up to 6 digits, 9 for TIMESTAMP_NS); years before 0000 or after 9999 are written ±YYYYYY as in JavaScript, and infinite timestamps as "infinity" and "-infinity";',
  "lists, structs and maps (maps as [{key, value}]) hold their elements shaped the same way;",
  "BOOLEAN is true or false, and other types (VARCHAR, UUID, TIME, ...) are strings as the engine writes them. NULL is null."
].join(" ")

// ---------------------------------------------------------------------------------------------
// Types

const integers = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "BIGINT",
  "HUGEINT",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "UBIGINT",
  "UHUGEINT",
  "INT",
  "INT1",
  "INT2",
  "INT4",
  "INT8",
  "LONG"
])
const floats = new Set(["FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8", "DOUBLE PRECISION"])
const timestamps = new Set(["TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP_US", "DATETIME"])
const zonedTimestamps = new Set(["TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"])

const asIs: ValueType = { _tag: "AsIs" }

class Unparsable extends Error {}

/**
 * A column type as the catalog writes it (`BIGINT`, `DECIMAL(18,2)`, `TIMESTAMP WITH TIME ZONE`,
 * `BIGINT[]`, `STRUCT(a BIGINT, "b c" DATE)`, `MAP(VARCHAR, BIGINT)`); AsIs for anything unknown.
 */
export const parseType = (text: string): ValueType => {
  let i = 0
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  const expect = (c: string) => {
    space()
    if (text[i] !== c) throw new Unparsable()
    i++
  }
  /** Skips balanced parentheses (arguments such as DECIMAL's or ENUM's), quotes respected. */
  const skipArguments = () => {
    let depth = 0
    do {
      const c = text[i]
      if (c === undefined) throw new Unparsable()
      if (c === "'" || c === '"') {
        const end = text.indexOf(c, i + 1)
        if (end < 0) throw new Unparsable()
        i = end + 1
        continue
      }
      if (c === "(") depth++
      if (c === ")") depth--
      i++
    } while (depth > 0)
  }
  const fieldName = (): string => {
    space()
    if (text[i] === '"') {
      let name = ""
      i++
      for (;;) {
        const end = text.indexOf('"', i)
        if (end < 0) throw new Unparsable()
        name += text.slice(i, end)
        i = end + 1
        if (text[i] !== '"') return name
        name += '"'
        i++
      }
    }
    const m = /^[^\s,()"]+/.exec(text.slice(i))
    if (m === null) throw new Unparsable()
    i += m[0].length
    return m[0]
  }
  const type = (): ValueType => {
    space()
    const m = /^[A-Za-z_][A-Za-z0-9_]*(?:\s+[A-Za-z_][A-Za-z0-9_]*)*/.exec(text.slice(i))
    if (m === null) throw new Unparsable()
    i += m[0].length
    const name = m[0].toUpperCase().replace(/\s+/g, " ")
    let base: ValueType
    space()
    if (name === "STRUCT" || name === "ROW") {
      const fields = new Map<string, ValueType>()
      expect("(")
      for (;;) {
        const field = fieldName()
        fields.set(field, type())
        space()
        if (text[i] === ",") {
          i++
          continue
        }
        expect(")")
        break
      }
      base = { _tag: "Struct", fields }
    } else if (name === "MAP") {
      expect("(")
      const key = type()
      expect(",")
      const value = type()
      expect(")")
      base = { _tag: "Map", key, value }
    } else {
      if (text[i] === "(") skipArguments()
      base = integers.has(name)
        ? { _tag: "Integer" }
        : name === "DECIMAL" || name === "NUMERIC"
          ? { _tag: "Decimal" }
          : floats.has(name)
            ? { _tag: "Float" }
            : name === "DATE"
              ? { _tag: "Date" }
              : timestamps.has(name)
                ? { _tag: "Timestamp", zoned: false }
                : zonedTimestamps.has(name)
                  ? { _tag: "Timestamp", zoned: true }
                  : name === "INTERVAL"
                    ? { _tag: "Interval" }
                    : asIs
    }
    for (;;) {
      space()
      if (text[i] !== "[") return base
      const end = text.indexOf("]", i)
      if (end < 0 || !/^\d*$/.test(text.slice(i + 1, end))) throw new Unparsable()
      i = end + 1
      base = { _tag: "List", element: base }
    }
  }
  try {
    const parsed = type()
    space()
    return i === text.length ? parsed : asIs
  } catch (e) {
    if (e instanceof Unparsable) return asIs
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// Values

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER)

/** An integer: a number within ±(2^53 - 1), otherwise its decimal digits as a string. */
export const integerValue = (value: unknown): unknown => {
  const big = typeof value === "bigint" ? value : typeof value === "string" && /^[+-]?\d+$/.test(value) ? BigInt(value) : undefined
  if (big === undefined) return value
  return big >= -maxSafe && big <= maxSafe ? Number(big) : big.toString()
}

/** A decimal: a number when its significant digits (at most 15) survive a double, otherwise its exact text. */
export const decimalValue = (value: unknown): unknown => {
  if (typeof value !== "string") return value
  const m = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(value)
  if (m === null || (m[1] === "" && (m[2] ?? "") === "")) return value
  const significant = `${m[1]}${m[2] ?? ""}`.replace(/^0+/, "").replace(/0+$/, "")
  return significant.length <= 15 ? Number(value) : value
}

const floatValue = (value: unknown): unknown =>
  typeof value === "number" && !Number.isFinite(value) ? (Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity") : value

const pad = (n: number, width: number) => String(n).padStart(width, "0")

/** ISO 8601's year: four digits within 0000-9999, otherwise a sign and six (as JavaScript writes it). */
const isoYear = (year: number) => (year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? "-" : "+"}${pad(Math.abs(year), 6)}`)

// The engine's text: `2024-05-02`, `0044-03-15 (BC)`, `2024-05-02 07:30:00.5`, `0044-03-15 (BC) 10:00:00`, with `+00` on TIMESTAMPTZ.
const datePattern = /^(\d{4,})-(\d\d)-(\d\d)( \(BC\))?$/
const timestampPattern = /^(\d{4,})-(\d\d)-(\d\d)( \(BC\))?[ T](\d\d):(\d\d):(\d\d)(\.\d+)?(?:(Z)|([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/

/** BC years in astronomical numbering (1 BC is year 0), as ISO 8601 counts them. */
const astronomical = (digits: string, bc: string | undefined) => (bc === undefined ? Number(digits) : 1 - Number(digits))

export const dateValue = (value: unknown): unknown => {
  if (typeof value !== "string") return value
  const m = datePattern.exec(value)
  return m === null ? value : `${isoYear(astronomical(m[1]!, m[4]))}-${m[2]}-${m[3]}`
}

export const timestampValue =
  (zoned: boolean) =>
  (value: unknown): unknown => {
    if (typeof value !== "string") return value
    const m = timestampPattern.exec(value)
    if (m === null) return value
    const fraction = m[8] ?? ""
    const year = astronomical(m[1]!, m[4])
    if (!zoned) return `${isoYear(year)}-${m[2]}-${m[3]}T${m[5]}:${m[6]}:${m[7]}${fraction}`
    const offset = m[10] === undefined ? 0 : (m[10] === "-" ? -1 : 1) * (Number(m[11]) * 3600 + Number(m[12] ?? 0) * 60 + Number(m[13] ?? 0))
    if (offset === 0) return `${isoYear(year)}-${m[2]}-${m[3]}T${m[5]}:${m[6]}:${m[7]}${fraction}Z`
    // To UTC: whole seconds through Date (which keeps the calendar), the fraction unchanged.
    const d = new Date(0)
    d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]))
    d.setUTCHours(Number(m[5]), Number(m[6]), Number(m[7]) - offset, 0)
    if (Number.isNaN(d.getTime())) return value
    return `${isoYear(d.getUTCFullYear())}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${fraction}Z`
  }

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null && !Array.isArray(value)

/** The function that writes values of `type` as JSON. */
const shaper = (type: ValueType): ((value: unknown) => unknown) => {
  switch (type._tag) {
    case "Integer":
      return integerValue
    case "Decimal":
      return decimalValue
    case "Float":
      return floatValue
    case "Date":
      return dateValue
    case "Timestamp":
      return timestampValue(type.zoned)
    case "Interval":
      return (value) => (isRecord(value) ? { ...value, micros: integerValue(value["micros"]) } : value)
    case "List": {
      const element = shaper(type.element)
      return (value) => (Array.isArray(value) ? value.map((v) => (v === null ? null : element(v))) : value)
    }
    case "Struct": {
      const fields = new Map([...type.fields].map(([name, t]) => [name, shaper(t)]))
      return (value) => {
        if (!isRecord(value)) return value
        const out: Record<string, unknown> = {}
        for (const [name, v] of Object.entries(value)) out[name] = v === null ? null : (fields.get(name) ?? ((x: unknown) => x))(v)
        return out
      }
    }
    case "Map": {
      const key = shaper(type.key)
      const val = shaper(type.value)
      return (value) =>
        Array.isArray(value) ? value.map((e) => (isRecord(e) ? { key: e["key"] === null ? null : key(e["key"]), value: e["value"] === null ? null : val(e["value"]) } : e)) : value
    }
    case "AsIs":
      return (value) => value
  }
}

/** Rows as the API writes them: each value shaped by its column's type; NULL stays null. */
export const shapeRows = (
  columns: ReadonlyArray<{ readonly name: string; readonly type: string }>,
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>
): ReadonlyArray<Record<string, unknown>> => {
  const shapes = columns.map((c) => [c.name, shaper(parseType(c.type))] as const)
  return rows.map((row) => {
    const out: Record<string, unknown> = {}
    for (const [name, shape] of shapes) {
      const value = row[name]
      out[name] = value === null || value === undefined ? null : shape(value)
    }
    return out
  })
}
