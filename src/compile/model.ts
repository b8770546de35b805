/**
 * Compiles a silver or gold table (its input, transform chain and expectations) into SQL. Pure.
 *
 * Rows are marked rather than removed: every step keeps the rows it would drop and records why in
 * a marker column, so that one grouped query over the staged rows accounts for every row
 * (kept, dropped by reason, duplicate, quarantined). Markers are NULL until set (most rows store
 * nothing). Steps that change the grain (aggregate, top, sql) first discard marked rows; accounting
 * starts again after the last of them, and steps before it simply remove rows.
 *
 * One exception, for speed: a dedupe that is the chain's first step (keeping the first row of each
 * key) removes the duplicates before the markers are added, with QUALIFY row_number() = 1, which
 * DuckDB runs as a grouped arg_max instead of sorting every row by key. The staged rows then hold
 * no duplicates, and classify counts them as the input's rows minus the staged rows.
 *
 * Order-dependent steps are deterministic: rows that `order_by` (or a merge's `sequence_by`) leaves
 * tied are ordered by arrival (`_ingested_at`, `_source_file`, `_source_row`, as far as the rows
 * still carry them), so a rebuild keeps the same row as the incremental runs did. `top` then
 * orders rows still tied by their whole row, since its rows may carry no arrival columns.
 */
import type { JoinStep, ModelNode } from "../plan/Plan.ts"
import { quarantinesRows, reshapes, unmatchedRows } from "../plan/Plan.ts"
import type { Expectation, ExpectationKind, OnFail, Step } from "../spec/Pipeline.ts"
import type { Dialect } from "./Dialect.ts"
import { arrivalColumns, lineageColumns } from "./ingest.ts"
import { resolveReferences } from "./references.ts"

export const REMOVED = "__medallion_removed"
/** Quarantine reasons set by steps: a cast's `cast(col)` with the value as it arrived, a join's name. */
export const CAST_QUARANTINE = "__medallion_cast_q"
export const CAST_FAIL = "__medallion_cast_f"
const markers = [REMOVED, CAST_QUARANTINE, CAST_FAIL] as const

export interface ExpectationPlan {
  readonly name: string
  readonly kind: ExpectationKind
  readonly onFail: OnFail
  /** The boolean column that is true for rows failing this expectation. */
  readonly flag: string
}

export interface ModelInputs {
  readonly batchId: string
  readonly startedAt: string
  /** Append mode: only these `_batch_id`s of the input are new. */
  readonly newInputBatches?: ReadonlyArray<string> | undefined
  /** The input table's columns, when known: the arrival columns among them order ties. */
  readonly inputColumns?: ReadonlyArray<string> | undefined
  /** An incremental append into this existing table: `unique` also looks at its rows. */
  readonly appendingTo?: string | undefined
}

export interface ModelProgram {
  readonly stage: string
  /** Materializes the marked and flagged rows into the stage table. */
  readonly buildStage: string
  /** One row per combination of (removed reason, cast failures, expectation flags) with its count `n`. */
  readonly classify: string
  /** The same classification computed over the chain itself, for views (no stage table). */
  readonly classifyView: string
  readonly expectations: ReadonlyArray<ExpectationPlan>
  /** Up to 5 values of a column whose cast failed, for the error message. */
  readonly castFailureSample: (column: string) => string
  /** The rows to publish. */
  readonly output: string
  /** The rows to quarantine, with `_expectations`, or undefined when nothing can be quarantined. */
  readonly quarantine: string | undefined
  readonly dropStage: string
  /**
   * The chain's rows with marked rows filtered out, casting strictly: a view's query, and the
   * output of a table that `keepsEveryRow` (built from it directly, without a stage).
   */
  readonly chainQuery: string
  /**
   * No step after the last change of grain and no expectation can set a row aside, so every row
   * the chain yields is published and the write itself counts them: no stage table and no
   * classification are needed.
   */
  readonly keepsEveryRow: boolean
  /** The chain has casts that fail the table on a bad value (reported with samples only by the staged build). */
  readonly castsCanFail: boolean
  /**
   * Queries that read nothing (LIMIT 0), one per part of the table a person wrote, in the order
   * the chain uses them: the first that the engine rejects names the part that holds a mistake.
   */
  readonly probes: ReadonlyArray<Probe>
}

/** A part of a table's definition (its path below the table, e.g. ["transforms", 2]) and a query that only it can make fail. */
export interface Probe {
  readonly path: ReadonlyArray<string | number>
  readonly query: string
}

/** The name an expectation is reported under. */
const expectationName = (e: Expectation): string => {
  if (e.name !== undefined) return e.name
  if ("check" in e) return `check(${e.check})`
  if ("not_null" in e) return `not_null(${e.not_null.join(", ")})`
  if ("unique" in e) return `unique(${e.unique.join(", ")})`
  if ("accepted_values" in e) return `accepted_values(${e.accepted_values.column})`
  return `relationships(${e.relationships.column} -> ${e.relationships.to}.${e.relationships.field})`
}

const expectationKind = (e: Expectation): ExpectationKind =>
  "check" in e ? "check" : "not_null" in e ? "not_null" : "unique" in e ? "unique" : "accepted_values" in e ? "accepted_values" : "relationships"

const parseDuration = (every: string): string => {
  const m = /^(\d+)\s*([a-z]+)$/.exec(every.trim())!
  const unit = m[2]!
  const name =
    unit.startsWith("ms") || unit.startsWith("milli")
      ? "millisecond"
      : unit === "s" || unit.startsWith("sec")
        ? "second"
        : unit === "m" || unit.startsWith("min")
          ? "minute"
          : unit === "h" || unit.startsWith("hour")
            ? "hour"
            : "day"
  return `${m[1]} ${name}${m[1] === "1" ? "" : "s"}`
}

/** What a join's unmatched rows are quarantined under (in `_expectations`). */
const joinReason = (join: JoinStep): string => join.name ?? `join(${join.to} on ${typeof join.on === "string" ? join.on : join.on.join(", ")})`

/** What a join's unmatched rows are counted under when dropped: `join_unmatched` as ever, with the join's name when it has one. */
const joinDropReason = (join: JoinStep): string => (join.name === undefined ? "join_unmatched" : `join_unmatched:${join.name}`)

/** The quarantine reason of a value of `column` that did not cast. */
const castReason = (column: string) => `cast(${column})`

/** The columns of a cast step, as { column: type }. */
const castColumns = (step: Extract<Step, { cast: unknown }>): Readonly<Record<string, string>> =>
  "columns" in step.cast && typeof step.cast.columns === "object" ? (step.cast.columns as Record<string, string>) : (step.cast as Record<string, string>)

const castOnError = (step: Extract<Step, { cast: unknown }>) => ("columns" in step.cast && typeof step.cast.columns === "object" ? (step.cast.on_error ?? "fail") : "fail")

interface ChainContext {
  readonly d: Dialect
  readonly node: ModelNode
  readonly strictCasts: boolean
  /** Before each step (and after the last), the arrival columns the rows still carry. */
  readonly arrival: ReadonlyArray<ReadonlyArray<string>>
}

/**
 * The arrival columns present before each step and after the last: those of the input, less what
 * a step removes (select without them, drop, rename, and a change of grain that makes new rows:
 * aggregate and sql; top keeps whole rows).
 */
const arrivalThrough = (steps: ReadonlyArray<Step>, inputColumns: ReadonlyArray<string> | undefined): ReadonlyArray<ReadonlyArray<string>> => {
  let present: ReadonlyArray<string> = arrivalColumns.filter((c) => inputColumns?.includes(c) === true)
  const through = [present]
  for (const step of steps) {
    if (reshapes(step) && !("top" in step)) present = []
    else if ("select" in step) present = present.filter((c) => step.select.includes(c))
    else if ("drop" in step) present = present.filter((c) => !step.drop.includes(c))
    else if ("rename" in step) present = present.filter((c) => !Object.hasOwn(step.rename, c))
    through.push(present)
  }
  return through
}

/**
 * The ORDER BY terms that make a window over `orderBy` total: arrival, in the direction of the last
 * term (ascending without one), so "latest first" also takes the latest of equal rows.
 */
const withArrival = (d: Dialect, orderBy: ReadonlyArray<string>, arrival: ReadonlyArray<string>): ReadonlyArray<string> => {
  const last = orderBy.at(-1)
  const direction = last !== undefined && /\bdesc\b/i.test(last) ? " DESC" : ""
  return [...orderBy, ...arrival.map((c) => `${d.quote(c)}${direction}`)]
}

/**
 * One step as a SELECT over the previous CTE `prev`. Before the last step that changes the grain,
 * rows set aside are not counted (accounting starts after it), so `beforeReshape` steps filter
 * instead of marking: the engine can then push the filter down and join less.
 */
const compileStep = (ctx: ChainContext, step: Step, index: number, prev: string, beforeReshape: boolean, someRemoved: boolean): string => {
  const castsAreStrict = ctx.strictCasts || beforeReshape
  const { d } = ctx
  const q = d.quote
  const alive = `${q(REMOVED)} IS NULL`
  const remove = (reason: string, failing: string) => `CASE WHEN ${alive} AND (${failing}) THEN ${d.literal(reason)} ELSE ${q(REMOVED)} END`
  // A bare name is quoted (so a column called `at` or `order` works); anything else is an expression.
  if ("select" in step) return `SELECT ${[...step.select.map((c) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(c) ? q(c) : c)), ...markers.map(q)].join(", ")} FROM ${prev}`
  if ("drop" in step) return `SELECT ${d.starExcept(step.drop)} FROM ${prev}`
  if ("rename" in step) return `SELECT ${d.starRename(Object.entries(step.rename))} FROM ${prev}`
  if ("trim" in step) return `SELECT ${d.starReplace(step.trim.map((c) => [c, `trim(${q(c)})`]))} FROM ${prev}`
  if ("lowercase" in step) return `SELECT ${d.starReplace(step.lowercase.map((c) => [c, `lower(${q(c)})`]))} FROM ${prev}`
  if ("uppercase" in step) return `SELECT ${d.starReplace(step.uppercase.map((c) => [c, `upper(${q(c)})`]))} FROM ${prev}`
  if ("fill_nulls" in step) {
    return `SELECT ${d.starReplace(Object.entries(step.fill_nulls).map(([c, v]) => [c, `coalesce(${q(c)}, ${d.literal(String(v))})`]))} FROM ${prev}`
  }
  if ("drop_nulls" in step) {
    if (beforeReshape) return `SELECT * FROM ${prev} WHERE NOT (${step.drop_nulls.map((c) => `${q(c)} IS NULL`).join(" OR ")})`
    return `SELECT ${d.starReplace([[REMOVED, remove("drop_nulls", step.drop_nulls.map((c) => `${q(c)} IS NULL`).join(" OR "))]])} FROM ${prev}`
  }
  if ("filter" in step) {
    if (beforeReshape) return `SELECT * FROM ${prev} WHERE coalesce(${step.filter}, false)`
    return `SELECT ${d.starReplace([[REMOVED, remove("filter", `NOT coalesce(${step.filter}, false)`)]])} FROM ${prev}`
  }
  if ("dedupe" in step) {
    // Removed rows are not duplicates of kept ones; when no earlier step removes rows, all are kept so far.
    const { partition, window } = dedupeWindow(d, step, someRemoved ? [alive] : [], ctx.arrival[index] ?? [])
    const duplicate = step.dedupe.keep === "last" ? `row_number() OVER (${window}) < count(*) OVER (PARTITION BY ${partition})` : `row_number() OVER (${window}) > 1`
    return `SELECT ${d.starReplace([[REMOVED, remove("duplicate", duplicate)]])} FROM ${prev}`
  }
  if ("derive" in step) {
    // One CTE per column would also work; nesting keeps later columns able to use earlier ones.
    return Object.entries(step.derive).reduce((from, [column, expression]) => d.withColumn(`(${from})`, column, expression), `SELECT * FROM ${prev}`)
  }
  if ("window" in step) {
    return d.withColumn(prev, step.window.as, d.timeBucket(parseDuration(step.window.every), q(step.window.column)))
  }
  if ("mask" in step) {
    return `SELECT ${d.starReplace(
      // biome-ignore lint/suspicious/useIterableCallbackReturn: the switch below covers every mask kind (tsc checks it)
      Object.entries(step.mask).map(([c, how]) => {
        const col = q(c)
        const text = d.cast(col, "VARCHAR")
        switch (how) {
          case "hash":
            return [c, `CASE WHEN ${col} IS NULL THEN NULL ELSE ${d.sha256(col)} END`]
          case "redact":
            return [c, `CASE WHEN ${col} IS NULL THEN NULL ELSE '[REDACTED]' END`]
          case "partial":
            return [
              c,
              `CASE WHEN ${col} IS NULL THEN NULL WHEN length(${text}) <= 4 THEN repeat('*', length(${text})) ELSE repeat('*', length(${text}) - 4) || right(${text}, 4) END`
            ]
          case "null":
            return [c, `CASE WHEN false THEN ${col} END`]
        }
      })
    )} FROM ${prev}`
  }
  if ("cast" in step) {
    const columns = castColumns(step)
    const onError = castOnError(step)
    const entries = Object.entries(columns)
    if (onError === "fail" && castsAreStrict) {
      return `SELECT ${d.starReplace(entries.map(([c, t]) => [c, d.cast(q(c), t)]))} FROM ${prev}`
    }
    const replaced = entries.map(([c, t]) => [c, d.tryCast(q(c), t)] as const)
    if (onError === "null") return `SELECT ${d.starReplace(replaced)} FROM ${prev}`
    const marker = onError === "quarantine" ? CAST_QUARANTINE : CAST_FAIL
    // One entry per column that did not cast, with the value as it arrived (quarantine: named
    // `cast(col)`, its reason), appended in one step (linear in the number of columns); the marker
    // stays NULL while empty.
    const failed = `nullif(${d.concatArrays(
      `coalesce(${q(marker)}, ${d.emptyTextArray})`,
      d.textArray(
        entries.map(
          ([c, t]) =>
            `CASE WHEN ${alive} AND ${q(c)} IS NOT NULL AND ${d.tryCast(q(c), t)} IS NULL THEN ${d.castFailureEntry(onError === "quarantine" ? castReason(c) : c, q(c))} END`
        )
      )
    )}, ${d.emptyTextArray})`
    return `SELECT ${d.starReplace([...replaced, [marker, failed]])} FROM ${prev}`
  }
  if ("join" in step) {
    const { to, on, columns } = step.join
    const unmatched = unmatchedRows(step.join)
    const [layer, name] = to.split(".") as ["silver", string]
    const match = "__medallion_match"
    const condition = typeof on === "string" ? on : on.map((c) => `l.${q(c)} = r.${q(c)}`).join(" AND ")
    const right =
      columns === undefined
        ? [`r.${d.starExcept([...(typeof on === "string" ? [] : on), match])}`]
        : Array.isArray(columns)
          ? columns.map((c) => `r.${q(c)}`)
          : Object.entries(columns).map(([as, c]) => `r.${q(c)} AS ${q(as)}`)
    const filters = unmatched === "drop" && beforeReshape
    const missed = `l.${q(REMOVED)} IS NULL AND r.${q(match)} IS NULL`
    // The marker this join sets on a row without a match (REMOVED as it was when it sets none).
    const [marker, marked] =
      unmatched === "quarantine"
        ? [
            CAST_QUARANTINE,
            `CASE WHEN ${missed} THEN ${d.concatArrays(`coalesce(l.${q(CAST_QUARANTINE)}, ${d.emptyTextArray})`, d.textArray([d.literal(joinReason(step.join))]))} ELSE l.${q(CAST_QUARANTINE)} END`
          ]
        : unmatched === "drop" && !filters
          ? [REMOVED, `CASE WHEN ${missed} THEN ${d.literal(joinDropReason(step.join))} ELSE l.${q(REMOVED)} END`]
          : [REMOVED, `l.${q(REMOVED)}`]
    // The right side never brings its lineage columns: the row's lineage is the left side's.
    const rightRows = d.columnsExcept(d.table(layer, name), lineageColumns, `true AS ${q(match)}`)
    return `SELECT ${[`l.${d.starExcept([marker])}`, ...right, `${marked} AS ${q(marker)}`].join(", ")} FROM ${prev} l ${filters ? "INNER" : "LEFT"} JOIN (${rightRows}) r ON ${condition}`
  }
  if ("top" in step) {
    const { n, order_by, by, with_ties } = step.top
    const orderBy = typeof order_by === "string" ? [order_by] : order_by
    return d.firstRows(`SELECT * FROM ${prev}`, {
      partition: (by ?? []).map(q),
      // Ties in order_by are kept (rank), or broken by arrival and then the dialect's whole-row order.
      orderBy: with_ties === true ? orderBy : withArrival(d, orderBy, ctx.arrival[index] ?? []),
      n,
      withTies: with_ties === true
    })
  }
  if ("aggregate" in step) {
    const by = step.aggregate.by ?? []
    const metrics = Object.entries(step.aggregate.metrics).map(([name, e]) => `${e} AS ${q(name)}`)
    return `SELECT ${[...by, ...metrics].join(", ")} FROM ${prev}${by.length > 0 ? ` GROUP BY ${by.map((_, i) => i + 1).join(", ")}` : ""}`
  }
  return resolveReferences(d, step.sql, { input: prev })
}

/** The key columns and ordering of a dedupe step, with ties ordered by arrival. */
const dedupeWindow = (d: Dialect, step: Extract<Step, { dedupe: unknown }>, partitionFirst: ReadonlyArray<string>, arrival: ReadonlyArray<string>) => {
  const orderBy = withArrival(d, step.dedupe.order_by === undefined ? [] : typeof step.dedupe.order_by === "string" ? [step.dedupe.order_by] : step.dedupe.order_by, arrival)
  const partition = [...partitionFirst, ...step.dedupe.keys.map(d.quote)].join(", ")
  return { partition, window: `PARTITION BY ${partition}${orderBy.length > 0 ? ` ORDER BY ${orderBy.join(", ")}` : ""}` }
}

/** Whether a step can mark a row as removed, cast-failed or quarantined. */
const marksRows = (step: Step): boolean =>
  "filter" in step || "drop_nulls" in step || "dedupe" in step || ("join" in step && unmatchedRows(step.join) !== "keep") || ("cast" in step && castOnError(step) === "quarantine")

/** The chain's first step, when it is a dedupe that keeps the first row of each key (see the top of the file). */
const leadingDedupe = (steps: ReadonlyArray<Step>) => {
  const first = steps[0]
  return first !== undefined && "dedupe" in first && first.dedupe.keep !== "last" ? first : undefined
}

const startMarkers = (d: Dialect) =>
  `${d.cast("NULL", "VARCHAR")} AS ${d.quote(REMOVED)}, ${d.noTextArray} AS ${d.quote(CAST_QUARANTINE)}, ${d.noTextArray} AS ${d.quote(CAST_FAIL)}`

/** What the chain reads, after FROM: the input table (only the new batches in append mode) or the table's query. */
const inputRows = (d: Dialect, node: ModelNode, inputs: ModelInputs): string => {
  const table = node.table
  if (table.from === undefined) return `(${resolveReferences(d, table.sql!, {})}) AS q`
  const batchFilter =
    inputs.newInputBatches === undefined
      ? ""
      : ` WHERE ${d.quote("_batch_id")} IN (${inputs.newInputBatches.length === 0 ? "NULL" : inputs.newInputBatches.map(d.literal).join(", ")})`
  return `${d.table(...(table.from.split(".") as ["silver", string]))}${batchFilter}`
}

/** The CTEs of the chain; the last one is named `final`. `filterLeading`: a leading dedupe removes its duplicates. */
const compileChain = (ctx: ChainContext, inputs: ModelInputs, filterLeading: boolean): ReadonlyArray<readonly [string, string]> => {
  const { d, node } = ctx
  const steps = node.table.transforms ?? []
  const leading = filterLeading ? leadingDedupe(steps) : undefined
  const rows = inputRows(d, node, inputs)
  const source = leading === undefined ? rows : `(${d.firstPerKey(`SELECT * FROM ${rows}`, dedupeWindow(d, leading, [], ctx.arrival[0] ?? []).window)}) AS q`
  const ctes: Array<readonly [string, string]> = [["step_0", `SELECT *, ${startMarkers(d)} FROM ${source}`]]
  const lastReshape = steps.findLastIndex(reshapes)
  let someRemoved = false // whether an earlier step (since the grain last changed) marks rows as removed
  steps.forEach((step, i) => {
    const prev = `step_${i}`
    const beforeReshape = i < lastReshape
    if (i === 0 && leading !== undefined) {
      ctes.push([`step_${i + 1}`, `SELECT * FROM ${prev}`]) // already applied to the input
    } else if (reshapes(step)) {
      ctes.push([`alive_${i}`, `SELECT ${d.starExcept([...markers])} FROM ${prev} WHERE ${d.quote(REMOVED)} IS NULL`])
      ctes.push([`step_${i + 1}`, `SELECT *, ${startMarkers(d)} FROM (${compileStep(ctx, step, i, `alive_${i}`, beforeReshape, false)}) AS q`])
      someRemoved = false
    } else {
      ctes.push([`step_${i + 1}`, compileStep(ctx, step, i, prev, beforeReshape, someRemoved)])
      someRemoved ||= "dedupe" in step || (!beforeReshape && ("filter" in step || "drop_nulls" in step || ("join" in step && unmatchedRows(step.join) === "drop")))
    }
  })
  ctes.push(["final", `SELECT * FROM step_${steps.length}`])
  return ctes
}

/**
 * The predicate that a row fails `e`. `setAside` is true for rows that a cast or another
 * expectation quarantines or drops: they are never published, so `unique` does not count them (in
 * an incremental run they would never reach the table, and a rebuild must agree).
 */
const expectationFailing = (d: Dialect, node: ModelNode, inputs: ModelInputs, e: Expectation, setAside: string): string => {
  const q = d.quote
  if ("check" in e) return `NOT coalesce(${e.check}, false)`
  if ("not_null" in e) return e.not_null.map((c) => `s.${q(c)} IS NULL`).join(" OR ")
  if ("unique" in e) {
    // A merge keeps one row per key: unique over columns that include the key always holds (validate refuses others).
    const key = node.mode === "merge" ? (node.table.key ?? []) : []
    if (key.length > 0 && key.every((k) => e.unique.includes(k))) return "false"
    const cols = e.unique.map((c) => `s.${q(c)}`)
    const counted = `s.${q(REMOVED)} IS NULL AND NOT (${setAside})`
    const repeated = `count(*) OVER (PARTITION BY ${counted}, ${cols.join(", ")}) > 1`
    // An append is checked against the whole table: the key must not be there yet.
    const published =
      inputs.appendingTo === undefined
        ? ""
        : ` OR ${d.presentIn(
            inputs.appendingTo,
            e.unique.map((c) => [c, `s.${q(c)}`] as const)
          )}`
    return `NOT (${setAside}) AND (${cols.map((c) => `${c} IS NOT NULL`).join(" AND ")}) AND (${repeated}${published})`
  }
  if ("accepted_values" in e) {
    const c = `s.${q(e.accepted_values.column)}`
    // Text literals take the column's type, so 5 matches a DECIMAL 5.00 and 'a' a VARCHAR 'a'.
    return `${c} IS NOT NULL AND ${c} NOT IN (${e.accepted_values.values.map((v) => d.literal(String(v))).join(", ")})`
  }
  const { column, to, field } = e.relationships
  const [layer, name] = to.split(".") as ["silver", string]
  return `s.${q(column)} IS NOT NULL AND ${d.missingIn(d.table(layer, name), field, `s.${q(column)}`)}`
}

export const compileModel = (d: Dialect, node: ModelNode, inputs: ModelInputs): ModelProgram => {
  const q = d.quote
  // Casts are checked row by row (TRY_CAST plus markers) so that failures are counted and shown;
  // a view's own query casts strictly, so reading it never hides a bad value as NULL.
  // The steps whose set-aside rows are counted: those after the last change of grain.
  const allSteps = node.table.transforms ?? []
  const counted = allSteps.slice(allSteps.findLastIndex(reshapes) + 1)
  const arrival = arrivalThrough(allSteps, inputs.inputColumns)
  // A staged table's leading dedupe filters (its duplicates are counted as input minus staged rows,
  // from the input table; a query input would have to run twice); a view's classification reads
  // the chain itself and counts marked duplicates. That subtraction holds only while each staged
  // row is one input row: a later change of grain restarts the count (the dedupe is then not
  // counted at all), and a join can make several rows of one (the dedupe then marks instead).
  const reshaped = allSteps.some(reshapes)
  const filtersDuplicates = node.mode !== "view" && node.table.from !== undefined && leadingDedupe(allSteps) !== undefined && (reshaped || !allSteps.some((s) => "join" in s))
  const countsFilteredDuplicates = filtersDuplicates && !reshaped
  const ctes = compileChain({ d, node, strictCasts: false, arrival }, inputs, filtersDuplicates)
  const strictCtes = compileChain({ d, node, strictCasts: true, arrival }, inputs, true)
  const expectations: ReadonlyArray<ExpectationPlan> = (node.table.expect ?? []).map((e, i) => ({
    name: expectationName(e),
    kind: expectationKind(e),
    onFail: e.on_fail ?? "warn",
    flag: `__medallion_e${i}`
  }))
  // Row-local expectations first; `unique` then counts only the rows none of them sets aside.
  const declared = (node.table.expect ?? []).map((e, i) => ({ e, flag: expectations[i]!.flag, onFail: expectations[i]!.onFail }))
  const rowLocal = declared.filter(({ e }) => !("unique" in e))
  const unique = declared.filter(({ e }) => "unique" in e)
  const setAside = [`s.${q(CAST_QUARANTINE)} IS NOT NULL`, ...rowLocal.filter((x) => x.onFail === "quarantine" || x.onFail === "drop").map((x) => `s.${q(x.flag)}`)].join(" OR ")
  const flag = (x: (typeof declared)[number]) => `, (s.${q(REMOVED)} IS NULL AND coalesce(${expectationFailing(d, node, inputs, x.e, setAside)}, false)) AS ${q(x.flag)}`
  const rowFlagged = `SELECT s.*${rowLocal.map(flag).join("")} FROM final s`
  const flagged = unique.length === 0 ? rowFlagged : `SELECT s.*${unique.map(flag).join("")} FROM (${rowFlagged}) s`
  const withCtes = (chain: typeof ctes) => (tail: string) => `WITH ${chain.map(([name, sql]) => `${name} AS (${sql})`).join(",\n")}\n${tail}`
  const withChain = withCtes(ctes)
  const stage = `__stage_${node.layer}_${node.name}`
  const hidden = [...markers, ...expectations.map((e) => e.flag)]
  const with_ = (action: OnFail) => expectations.filter((e) => e.onFail === action).map((e) => q(e.flag))
  const quarantined = [`${q(CAST_QUARANTINE)} IS NOT NULL`, ...with_("quarantine")].join(" OR ")
  const dropped = with_("drop")
  const alive = `${q(REMOVED)} IS NULL`
  const keep = `${alive} AND NOT (${quarantined})${dropped.length > 0 ? ` AND NOT (${dropped.join(" OR ")})` : ""}`
  // A merge keeps, per key, the newest of the rows that pass (by sequence_by, then arrival); the
  // others are duplicates. After the expectations, so that a quarantined or dropped row never
  // replaces a stored one, in an incremental run or a rebuild alike.
  const key = node.mode === "merge" ? (node.table.key ?? []) : []
  const newestFirst = withArrival(d, node.table.sequence_by === undefined ? [] : [`${q(node.table.sequence_by)} DESC`], arrival.at(-1) ?? [])
  const staged =
    key.length === 0
      ? flagged
      : `SELECT ${d.starReplace([
          [
            REMOVED,
            `CASE WHEN (${keep}) AND row_number() OVER (PARTITION BY (${keep}), ${key.map(q).join(", ")}${newestFirst.length > 0 ? ` ORDER BY ${newestFirst.join(", ")}` : ""}) > 1 THEN ${d.literal("duplicate")} ELSE ${q(REMOVED)} END`
          ]
        ])} FROM (${flagged}) AS flagged`
  const quarantineCasts = allSteps.filter((s): s is Extract<Step, { cast: unknown }> => "cast" in s && castOnError(s) === "quarantine")
  const canQuarantine = quarantinesRows(node.table)
  const quarantining = expectations.filter((e) => e.onFail === "quarantine")
  const reasons = d.concatArrays(
    d.textArray(quarantining.map((e) => `CASE WHEN ${q(e.flag)} THEN ${d.literal(e.name)} END`)),
    `coalesce(${d.castFailureColumns(q(CAST_QUARANTINE))}, ${d.emptyTextArray})`
  )
  // The first reason in the order the table applies them: its steps' casts, then its expectations as declared.
  const firstReason =
    quarantining.length === 0
      ? d.firstCastFailure(q(CAST_QUARANTINE))
      : `coalesce(${d.firstCastFailure(q(CAST_QUARANTINE))}, CASE ${quarantining.map((e) => `WHEN ${q(e.flag)} THEN ${d.literal(e.name)}`).join(" ")} END)`
  // A value that did not cast is kept as it arrived, in `_raw_<column>`: the typed column holds NULL.
  const rawValues = [...new Set(quarantineCasts.flatMap((s) => Object.keys(castColumns(s))))]
    .map((c) => `, ${d.castFailureValue(q(CAST_QUARANTINE), castReason(c))} AS ${q(`_raw_${c}`)}`)
    .join("")
  // Cast failures are grouped by column, not by value, so the grouping stays small.
  // Quarantine by cast only needs yes or no here (the reasons go to the quarantine table).
  const classifyColumns = [
    q(REMOVED),
    `${q(CAST_QUARANTINE)} IS NOT NULL AS ${q(CAST_QUARANTINE)}`,
    `${d.castFailureColumns(q(CAST_FAIL))} AS ${q(CAST_FAIL)}`,
    ...expectations.map((e) => q(e.flag))
  ]
  const classify = (from: string) => `SELECT ${classifyColumns.join(", ")}, count(*) AS n FROM ${from} GROUP BY ${classifyColumns.map((_, i) => i + 1).join(", ")}`
  // Counting a table's rows reads its metadata, not its data (except the batch filter of an append).
  const duplicatesRemoved = (from: string) =>
    ` UNION ALL SELECT ${d.literal("duplicate")}, ${classifyColumns
      .slice(1)
      .map(() => "NULL")
      .join(", ")}, (SELECT count(*) FROM ${inputRows(d, node, inputs)}) - (SELECT count(*) FROM ${from}) AS n`
  return {
    stage,
    buildStage: d.createTempTable(stage, withChain(staged)),
    classify: classify(d.tempTable(stage)) + (countsFilteredDuplicates ? duplicatesRemoved(d.tempTable(stage)) : ""),
    classifyView: withChain(classify(`(${flagged}) AS flagged`)),
    expectations,
    castFailureSample: (column) => d.castFailureValues(node.mode === "view" ? `(${withChain("SELECT * FROM final")}) AS chain` : d.tempTable(stage), q(CAST_FAIL), column),
    output: `SELECT ${d.starExcept(hidden)} FROM ${d.tempTable(stage)} WHERE ${keep}`,
    quarantine: canQuarantine
      ? `SELECT ${d.starExcept(hidden)}, ${reasons} AS _expectations, ${firstReason} AS _reason${rawValues}, ${d.literal(inputs.batchId)} AS _quarantine_batch_id, ${d.timestamp(inputs.startedAt)} AS _quarantined_at FROM ${d.tempTable(stage)} WHERE ${alive} AND (${quarantined})`
      : undefined,
    dropStage: d.dropTempTable(stage),
    chainQuery: withCtes(strictCtes)(`SELECT ${d.starExcept([...markers])} FROM final WHERE ${alive}`),
    keepsEveryRow: expectations.length === 0 && key.length === 0 && !counted.some(marksRows),
    castsCanFail: counted.some((step) => "cast" in step && castOnError(step) === "fail"),
    probes: probesOf(d, node, ctes)
  }
}

/** The input (`sql:`), each step (the chain up to it), each expectation's columns or predicate, the merge key. */
const probesOf = (d: Dialect, node: ModelNode, ctes: ReadonlyArray<readonly [string, string]>): ReadonlyArray<Probe> => {
  const q = d.quote
  const upTo = (name: string, select: string) => {
    const end = ctes.findIndex(([n]) => n === name)
    return `WITH ${ctes
      .slice(0, end + 1)
      .map(([n, sql]) => `${n} AS (${sql})`)
      .join(",\n")}\n${select} FROM ${name} s LIMIT 0`
  }
  const columns = (cols: ReadonlyArray<string>) => cols.map((c) => `s.${q(c)}`).join(", ")
  const table = node.table
  return [
    ...(table.sql === undefined ? [] : [{ path: ["sql"], query: upTo("step_0", "SELECT *") }]),
    ...(table.transforms ?? []).map((_, i) => ({ path: ["transforms", i], query: upTo(`step_${i + 1}`, "SELECT *") })),
    ...(table.expect ?? []).map((e, i) => ({
      path: ["expect", i],
      query: upTo(
        "final",
        `SELECT ${
          "check" in e
            ? `NOT coalesce(${e.check}, false)`
            : "not_null" in e
              ? columns(e.not_null)
              : "unique" in e
                ? columns(e.unique)
                : "accepted_values" in e
                  ? columns([e.accepted_values.column])
                  : columns([e.relationships.column])
        }`
      )
    })),
    ...(table.key === undefined ? [] : [{ path: ["key"], query: upTo("final", `SELECT ${columns(table.key)}`) }]),
    ...(table.sequence_by === undefined ? [] : [{ path: ["sequence_by"], query: upTo("final", `SELECT ${columns([table.sequence_by])}`) }])
  ]
}
