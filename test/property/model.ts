/**
 * The reference model of the incremental-equals-full-refresh property: a generated pipeline (one
 * CSV source, one bronze table, one or two silver tables, a gold aggregate) and a sequence of
 * arrivals, and what silver and gold must hold after them. Plain arrays, sorts and maps, no SQL:
 * it states the rules, the engine has to meet them.
 *
 * The rules:
 * - Bronze rows carry the apply that first ingested their file's content, their file and their
 *   1-based position in it (`_source_row`); arrival order is (apply, file path, row). A replace
 *   bronze table re-reads every file each run, so its rows all share one apply.
 * - `dedupe` (the first step, on the raw text): rows equal under `order_by` are ordered by arrival in
 *   the direction of the last `order_by` term (ascending without one); keep first keeps the first
 *   row per key in that order, keep last the last.
 * - `cast` (id, seq, amount to integer): a value that is not a whole number is quarantined
 *   (`on_error: quarantine`) or becomes NULL (`on_error: null`).
 * - `check amount >= 0` and `not_null [cat]`: row-local, `drop`, `quarantine` or `warn`; a row
 *   failing several rules takes the strongest action.
 * - `merge` by id with `sequence_by: seq`: among the rows that pass the casts and expectations, the
 *   greatest seq wins per id, ties to the later arrival.
 * - `append` with `unique [id]`: over the whole table; `on_fail: fail` fails the table (it stays as
 *   it was, its dependents are skipped) as soon as a kept id repeats.
 * - Gold: `aggregate: { by: [cat], metrics: { n: count(*), total: sum(amount) } }` over one silver table.
 */

export type Mode = "replace" | "append" | "merge" | "view"
export type OnFail = "drop" | "quarantine" | "warn"
export type DedupeOrder = "none" | "seq desc" | "seq" | "_ingested_at desc"

export interface SilverSpec {
  readonly name: string
  readonly mode: Mode
  readonly dedupe?: { readonly order: DedupeOrder; readonly keep: "first" | "last" }
  readonly castOnError: "quarantine" | "null"
  readonly check?: OnFail
  readonly notNull?: OnFail
  /** `drop` and `quarantine` are refused by validate on an append table (generated only to check that). */
  readonly unique?: "fail" | "warn" | "drop" | "quarantine"
}

export interface PipelineSpec {
  readonly incremental: boolean
  readonly silver: ReadonlyArray<SilverSpec>
  /** Index of the silver table gold aggregates. */
  readonly goldFrom: number
}

/** A CSV row as text; an empty string is an empty field (NULL once read). */
export interface CsvRow {
  readonly id: string
  readonly seq: string
  readonly amount: string
  readonly cat: string
  readonly note?: string
}

export interface CsvFile {
  readonly name: string
  readonly rows: ReadonlyArray<CsvRow>
  /** Whether the file has the `note` column (a column appearing in later files). */
  readonly note: boolean
  readonly crlf: boolean
}

/** One step between applies: files written (new or rewritten) and files removed. */
export interface Arrival {
  readonly write: ReadonlyArray<CsvFile>
  readonly remove: ReadonlyArray<string>
}

export interface Case {
  readonly pipeline: PipelineSpec
  readonly arrivals: ReadonlyArray<Arrival>
}

const columns = ["id", "seq", "amount", "cat"] as const

/** The text of a CSV file. */
export const csvText = (file: CsvFile): string => {
  const eol = file.crlf ? "\r\n" : "\n"
  const header = file.note ? [...columns, "note"] : [...columns]
  const lines = file.rows.map((r) => header.map((c) => (r as unknown as Record<string, string | undefined>)[c] ?? "").join(","))
  return [header.join(","), ...lines].join(eol) + eol
}

// ---------------------------------------------------------------------------------------------

/** A bronze row with its arrival: the apply that ingested it, its file and its 1-based row. */
interface BronzeRow {
  readonly values: Readonly<Record<string, string | null>>
  readonly apply: number
  readonly file: string
  readonly row: number
}

/** Comparable value of a row: text or null. */
export type Value = string | null
export type Table = ReadonlyArray<Readonly<Record<string, Value>>>

export interface TableState {
  /** Whether the table exists (false when it never succeeded). */
  readonly exists: boolean
  readonly failed: boolean
  readonly rows: Table
  /** Rows of `<table>__quarantine` (identifying columns only). */
  readonly quarantine: Table
}

export interface Expected {
  readonly bronze: Table
  readonly silver: Readonly<Record<string, TableState>>
  readonly gold: TableState
}

const byArrival = (a: BronzeRow, b: BronzeRow) => a.apply - b.apply || compareText(a.file, b.file) || a.row - b.row
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Empty CSV fields read as NULL. */
const field = (text: string | undefined): Value => (text === undefined || text === "" ? null : text)

/**
 * Bronze after applying `arrivals` one by one (each arrival is one apply, numbered from 0).
 * Incremental: a file is read once, when first seen (files are never rewritten or removed).
 * Replace: the current files, all read by the last apply.
 */
const bronzeAfter = (pipeline: PipelineSpec, arrivals: ReadonlyArray<Arrival>): ReadonlyArray<BronzeRow> => {
  const current = new Map<string, { file: CsvFile; apply: number }>()
  arrivals.forEach((arrival, apply) => {
    for (const name of arrival.remove) current.delete(name)
    for (const file of arrival.write) {
      const seen = current.get(file.name)
      current.set(file.name, { file, apply: pipeline.incremental && seen !== undefined ? seen.apply : apply })
    }
  })
  const noteSeen = [...current.values()].some((c) => c.file.note)
  const rows: Array<BronzeRow> = []
  for (const { file, apply } of current.values()) {
    file.rows.forEach((r, i) => {
      const values: Record<string, Value> = { id: field(r.id), seq: field(r.seq), amount: field(r.amount), cat: field(r.cat) }
      if (noteSeen) values["note"] = file.note ? field(r.note) : null
      rows.push({ values, apply: pipeline.incremental ? apply : arrivals.length - 1, file: file.name, row: i + 1 })
    })
  }
  return rows.sort(byArrival)
}

const integer = (v: Value): { readonly ok: boolean; readonly value: Value } =>
  v === null ? { ok: true, value: null } : /^\s*[-+]?\d+\s*$/.test(v) ? { ok: true, value: String(Number(v)) } : { ok: false, value: null }

/** Keeps one row per id, by the dedupe's order and keep (rows come in arrival order). */
const dedupe = (rows: ReadonlyArray<BronzeRow>, spec: NonNullable<SilverSpec["dedupe"]>): ReadonlyArray<BronzeRow> => {
  const descending = spec.order === "seq desc" || spec.order === "_ingested_at desc"
  const position = new Map(rows.map((r, i) => [r, i]))
  const primary = (r: BronzeRow): number | string => (spec.order === "none" ? 0 : spec.order === "_ingested_at desc" ? r.apply : (r.values["seq"] ?? ""))
  const sorted = [...rows].sort((a, b) => {
    const pa = primary(a)
    const pb = primary(b)
    const c = typeof pa === "number" && typeof pb === "number" ? pa - pb : compareText(String(pa), String(pb))
    const tie = position.get(a)! - position.get(b)!
    return descending ? -c || -tie : c || tie
  })
  const kept = new Map<Value, BronzeRow>()
  for (const r of sorted) {
    const key = r.values["id"] ?? null
    if (spec.keep === "last" || !kept.has(key)) kept.set(key, r)
  }
  const keep = new Set(kept.values())
  return rows.filter((r) => keep.has(r))
}

type Action = "keep" | "warn" | "drop" | "quarantine"
const strength: Record<Action, number> = { keep: 0, warn: 1, drop: 2, quarantine: 3 }

interface Classified {
  readonly row: BronzeRow
  readonly values: Readonly<Record<string, Value>>
  readonly action: Action
}

/** Casts and row-local expectations of a silver table over rows in arrival order. */
const classify = (spec: SilverSpec, rows: ReadonlyArray<BronzeRow>): ReadonlyArray<Classified> =>
  rows.map((row) => {
    const values: Record<string, Value> = { ...row.values }
    let action: Action = "keep"
    const worst = (a: Action) => {
      if (strength[a] > strength[action]) action = a
    }
    for (const c of ["id", "seq", "amount"] as const) {
      const cast = integer(row.values[c] ?? null)
      values[c] = cast.value
      if (!cast.ok && spec.castOnError === "quarantine") worst("quarantine")
    }
    const amount = values["amount"]
    if (spec.check !== undefined && !(amount !== null && amount !== undefined && Number(amount) >= 0)) worst(spec.check)
    if (spec.notNull !== undefined && values["cat"] === null) worst(spec.notNull)
    return { row, values, action }
  })

const withFile = (c: Classified): Record<string, Value> => ({ ...c.values, _source_file: c.row.file })
const quarantineRow = (c: Classified): Record<string, Value> => ({
  id: c.values["id"] ?? null,
  seq: c.values["seq"] ?? null,
  cat: c.values["cat"] ?? null,
  _source_file: c.row.file
})

/** A silver table over all of bronze (arrival order), as one run of it would leave it. */
const silverOf = (spec: SilverSpec, bronze: ReadonlyArray<BronzeRow>): TableState => {
  const input = spec.dedupe === undefined ? bronze : dedupe(bronze, spec.dedupe)
  const classified = classify(spec, input)
  const kept = classified.filter((c) => c.action === "keep" || c.action === "warn")
  const quarantine = classified.filter((c) => c.action === "quarantine").map(quarantineRow)
  if (spec.mode === "merge") {
    const latest = new Map<Value, Classified>()
    for (const c of kept) {
      const key = c.values["id"] ?? null
      const stored = latest.get(key)
      if (stored === undefined || Number(c.values["seq"] ?? -Infinity) >= Number(stored.values["seq"] ?? -Infinity)) latest.set(key, c)
    }
    return { exists: true, failed: false, rows: [...latest.values()].map(withFile), quarantine }
  }
  if (spec.mode === "append" && spec.unique === "fail") {
    const ids = kept.map((c) => c.values["id"]).filter((v) => v !== null)
    if (new Set(ids).size !== ids.length) return { exists: false, failed: true, rows: [], quarantine: [] }
  }
  return { exists: true, failed: false, rows: kept.map(withFile), quarantine: spec.mode === "view" ? [] : quarantine }
}

/** The gold aggregate over a silver table's rows: per cat, count(*) and sum(amount). */
const goldOf = (silver: Table): Table => {
  const groups = new Map<Value, { n: number; total: bigint | null }>()
  for (const r of silver) {
    const key = r["cat"] ?? null
    const g = groups.get(key) ?? { n: 0, total: null }
    g.n++
    const amount = r["amount"]
    if (amount !== null && amount !== undefined) g.total = (g.total ?? 0n) + BigInt(amount)
    groups.set(key, g)
  }
  return [...groups.entries()].map(([cat, g]) => ({ cat, n: String(g.n), total: g.total === null ? null : String(g.total) }))
}

/**
 * What the warehouse holds after applying `arrivals` one by one (full refresh or not, the same:
 * arrival order is kept). A table that fails keeps what it held after its last success, and a gold
 * table whose input failed is skipped and keeps its last rows too.
 */
export const expectedAfter = (c: Case, arrivals: ReadonlyArray<Arrival> = c.arrivals): Expected => {
  let state: Expected | undefined
  for (let k = 1; k <= arrivals.length; k++) {
    const bronze = bronzeAfter(c.pipeline, arrivals.slice(0, k))
    const silver: Record<string, TableState> = {}
    for (const spec of c.pipeline.silver) {
      const now = silverOf(spec, bronze)
      const before = state?.silver[spec.name]
      silver[spec.name] = now.failed ? { ...(before ?? now), failed: true } : now
    }
    const from = silver[c.pipeline.silver[c.pipeline.goldFrom]!.name]!
    const gold: TableState = from.failed
      ? { ...(state?.gold ?? { exists: false, rows: [], quarantine: [] }), failed: true }
      : { exists: true, failed: false, rows: goldOf(from.rows), quarantine: [] }
    state = { bronze: bronze.map((r) => ({ ...r.values, _source_file: r.file, _source_row: String(r.row) })), silver, gold }
  }
  return state!
}

/** The final files of a case (what a full refresh reads). */
export const finalFiles = (arrivals: ReadonlyArray<Arrival>): ReadonlyArray<CsvFile> => {
  const current = new Map<string, CsvFile>()
  for (const a of arrivals) {
    for (const name of a.remove) current.delete(name)
    for (const f of a.write) current.set(f.name, f)
  }
  return [...current.values()]
}
