/**
 * Checks every table's SQL against the columns its inputs will have, without reading rows: the
 * mistakes only an engine sees (a misspelled column, a type that does not exist, broken SQL in a
 * check) become problems at `file:line:col` of the part that holds them, as `validate` reports.
 *
 * On a scratch engine (an in-memory DuckDB the caller provides; never the warehouse): each bronze
 * table is created empty with the columns its source's files have (every matching file's header,
 * read as apply reads it, plus lineage); then, in dependency order, every silver and gold table's
 * statements run over its empty inputs and its empty output is created, so that the tables reading
 * it are checked against its real columns. A table whose statements fail is taken apart with its
 * probes (compile/model.ts: one query per transform, expectation and key) to find the part, and
 * inside it the word, that holds the mistake. Tables fed by a source without files, or by a table
 * with a mistake, are not checked, and the report says why.
 *
 * Does not decide what to print, and does not open the warehouse, take its lock or read rows.
 */
import { Deferred, Effect, FileSystem, Option } from "effect"
import { compileIngest } from "../compile/ingest.ts"
import { compileModel, type ModelProgram, type Probe } from "../compile/model.ts"
import { Executor, type ExecutorError, type Session } from "../executor/Executor.ts"
import type { IngestNode, ModelNode, Plan, TableId } from "../plan/Plan.ts"
import { formatPath, type ParsedPipeline, type YamlPath } from "../spec/parse.ts"
import type { Layer } from "../spec/Pipeline.ts"
import type { Problem } from "../spec/SpecError.ts"
import { didYouMean } from "../spec/suggest.ts"
import { containsWord, wordPosition } from "../spec/tokens.ts"
import { binderReason } from "./binderReason.ts"
import { type Column, columnsOf } from "./catalog.ts"
import { listFiles } from "./files.ts"

/** A table whose SQL was not checked, and why. */
interface Unchecked {
  readonly table: TableId
  readonly reason: string
}

export interface BindReport {
  /** The mistakes found, each at the part of a table that holds it. */
  readonly problems: ReadonlyArray<Problem>
  /** The tables whose every statement bound. */
  readonly checked: ReadonlyArray<TableId>
  readonly unchecked: ReadonlyArray<Unchecked>
}

/** What is known of a table once it is checked: its columns, or why it has none to offer. */
type Known = { readonly _tag: "Columns"; readonly columns: ReadonlyArray<Column> } | { readonly _tag: "Unknown"; readonly why: string; readonly which: string }

const own = /^__medallion_/

const outcomeOf = (known: Known, problems: ReadonlyArray<Problem> = []) => ({ known, problems })

/** The first error of a list of statements run in order, or none. */
const firstFailure = (session: Session, statements: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    for (const sql of statements) {
      const failed = yield* session.execute(sql).pipe(Effect.flip, Effect.option)
      if (Option.isSome(failed)) return failed
    }
    return Option.none<ExecutorError>()
  })

/** The columns of a query's result, without medallion's own. */
const describe = (session: Session, query: string) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const rows = yield* session.query(dialect.describe(query))
    return rows.map((r): Column => ({ name: String(r[dialect.describeColumns.name]), type: String(r[dialect.describeColumns.type]) })).filter((c) => !own.test(c.name))
  })

/** The texts written in a part (its string values, not its keys), with their paths below it. */
const textsIn = (value: unknown, path: YamlPath = []): ReadonlyArray<{ readonly path: YamlPath; readonly text: string }> =>
  typeof value === "string"
    ? [{ path, text: value }]
    : Array.isArray(value)
      ? value.flatMap((item, i) => textsIn(item, [...path, i]))
      : value !== null && typeof value === "object"
        ? Object.entries(value).flatMap(([key, item]) => textsIn(item, [...path, key]))
        : []

/**
 * The bronze table of a source, created empty with the columns of its files as apply reads them:
 * each file on its own, the first file's columns first, then those a later file adds, by name. The
 * read is apply's own, with its rejects tables: keeping malformed lines aside changes how DuckDB's
 * reader detects a file's dialect (and costs it some 50 ms a file, so files are read side by side).
 * Unknown when the source has no files yet or one cannot be read.
 */
const bindIngest = (node: IngestNode, projectDir: string) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const d = executor.dialect
    const found = yield* listFiles(node.id, projectDir, node.source.path).pipe(Effect.option)
    const unknown = (why: string): Known => ({ _tag: "Unknown", why, which: `is not checked (${why})` })
    if (Option.isNone(found)) return unknown(`no file matches its source's path ${node.source.path} yet`)
    const files = found.value.filter((f) => f.size > 0)
    if (files.length === 0) return unknown(`the files of its source ${node.sourceName} are empty`)
    const program = compileIngest(d, node, {
      batchId: "validate",
      startedAt: "1970-01-01T00:00:00Z",
      files: files.map((f) => ({ path: f.path, name: f.path, batchId: "validate", ingestedAt: "1970-01-01T00:00:00Z" }))
    })
    // Each in a session of its own: the reader's rejects tables are the session's, and go with it.
    const described = yield* Effect.forEach(program.reads, (read) => executor.withSession((s) => describe(s, read)).pipe(Effect.result), { concurrency: 4 })
    const columns = new Map<string, Column>()
    for (const [i, result] of described.entries()) {
      if (result._tag === "Failure") return unknown(`the columns of ${files[i]!.path} cannot be read: ${result.failure.reason.detail.split("\n")[0]}`)
      for (const column of result.success) if (!columns.has(column.name)) columns.set(column.name, column)
    }
    const target = d.table("bronze", node.name)
    const created = yield* executor
      .withSession((s) => s.execute(`CREATE TABLE ${target} (${[...columns.values()].map((c) => `${d.quote(c.name)} ${c.type}`).join(", ")})`))
      .pipe(Effect.result)
    if (created._tag === "Failure") return unknown(`its columns cannot be created: ${created.failure.reason.detail.split("\n")[0]}`)
    return { _tag: "Columns", columns: [...columns.values()] } satisfies Known
  })

/**
 * The statements that hold everything a person wrote in a table, for a first build over its
 * inputs, each limited to no rows (a `sql:` input may compute from table functions, which must not
 * run here): the one that stages its rows (input, every transform, every expectation's predicate,
 * a merge's key and order), or a view's classification; then its output, left empty in the table's
 * place as the tables reading it will see it. The statements apply derives from the stage
 * (classification, quarantine, publish) read only what the stage made, so they are not run here.
 */
const tableStatements = (node: ModelNode, program: ModelProgram, target: string, d: Executor["Service"]["dialect"]): ReadonlyArray<string> => {
  if (node.mode === "view") {
    return [`SELECT * FROM (${program.classifyView}) AS c LIMIT 0`, d.createTable(target, `SELECT * FROM (${program.chainQuery}) AS q LIMIT 0`)]
  }
  const prefix = d.createTempTable(program.stage, "")
  if (!program.buildStage.startsWith(prefix)) throw new Error(`the stage of ${node.id} is not built as ${prefix}...; bind.ts must learn its new form`)
  // The quarantine too, empty, since other tables may read it.
  const [layer, name] = node.id.split(".") as [Layer, string]
  return [
    d.createTempTable(program.stage, `SELECT * FROM (${program.buildStage.slice(prefix.length)}) AS q LIMIT 0`),
    d.createTable(target, program.output),
    ...(program.quarantine === undefined ? [] : [d.createTable(d.table(layer, `${name}__quarantine`), program.quarantine)])
  ]
}

/** The first whole word of `value` (its keys and text, in order) that is `word`, as a path below `value`. */
const findWord = (value: unknown, word: string, path: YamlPath = []): { readonly path: YamlPath; readonly at: "key" | "value" } | undefined => {
  if (typeof value === "string") return containsWord(value, word) ? { path, at: "value" } : undefined
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findWord(item, word, [...path, i])
      if (found !== undefined) return found
    }
    return undefined
  }
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (containsWord(key, word)) return { path: [...path, key], at: "key" }
      const found = findWord(item, word, [...path, key])
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** The part of the table at a probe's path: its kind's key (`filter`, `check`, ...) and what is written there. */
const partAt = (node: ModelNode, path: ReadonlyArray<string | number>): { readonly path: YamlPath; readonly value: unknown } => {
  const [section, index] = path
  const table = node.table as Record<string, unknown>
  if (index === undefined) return { path, value: table[String(section)] }
  const item = (table[String(section)] as ReadonlyArray<Record<string, unknown>>)[Number(index)] ?? {}
  // A transform is one key (its kind); an expectation's rule is its first key, beside name and on_fail.
  const kind = Object.keys(item).find((k) => k !== "name" && k !== "on_fail") ?? Object.keys(item)[0]
  return kind === undefined ? { path, value: item } : { path: [...path, kind], value: item[kind] }
}

interface Locator {
  readonly parsed: ParsedPipeline
  /** The file's text, read when a word must be positioned inside a value. */
  readonly text: Effect.Effect<string | undefined>
}

/** A problem in `node` at `path` below it: at the word when it is written there, else at the part. */
const problemAt = (locator: Locator, node: ModelNode, path: YamlPath, at: "key" | "value", word: string | undefined, message: string) =>
  Effect.gen(function* () {
    const full = [node.layer, node.name, ...path]
    const problem = locator.parsed.problemAt(full, `${formatPath(full)}: ${message}`, at)
    if (word === undefined || at === "key") return problem
    const text = yield* locator.text
    const position = text === undefined ? undefined : wordPosition(text, full, word)
    return position === undefined ? problem : { ...problem, ...position }
  })

/**
 * The problems of a table whose statements failed: the first transform (or input query) the engine
 * rejects, since later ones read it; otherwise every expectation, key or relationship it rejects;
 * failing all those, the statement's own error at the table. `chainBinds`: no transform or input
 * query failed, so the table's columns can still be known.
 */
const locate = (
  session: Session,
  node: ModelNode,
  probes: ReadonlyArray<Probe>,
  input: ReadonlyArray<Column> | undefined,
  known: ReadonlyMap<TableId, Known>,
  tables: ReadonlyArray<TableId>,
  failed: ExecutorError,
  locator: Locator
) =>
  Effect.gen(function* () {
    const problems: Array<Problem> = []
    const steps = probes.filter((p) => p.path[0] === "transforms")
    /** The columns a part can read: the step before it, the chain's end, or the input. */
    const visible = (path: ReadonlyArray<string | number>) => {
      const before = path[0] === "transforms" ? steps[Number(path[1]) - 1] : path[0] === "sql" ? undefined : steps.at(-1)
      if (before !== undefined) return describe(session, before.query).pipe(Effect.option, Effect.map(Option.getOrUndefined))
      return Effect.succeed(path[0] === "sql" ? undefined : input)
    }
    /**
     * Which of a part's texts holds a mistake the engine names no word of (a syntax error near the
     * SQL around the person's text, an operator with nothing after it): the first that the engine
     * rejects alone, over empty rows of the columns the part reads, with its own error.
     */
    const culprit = (value: unknown, columns: ReadonlyArray<Column> | undefined) =>
      Effect.gen(function* () {
        const texts = textsIn(value)
        if (texts.length < 2 || columns === undefined) return undefined
        const d = (yield* Executor).dialect
        yield* session.execute(`CREATE OR REPLACE TEMP TABLE "__validate_rows" (${columns.map((c) => `${d.quote(c.name)} ${c.type}`).join(", ")})`)
        for (const { path, text } of texts) {
          // EXPLAIN: the text is parsed and bound, never run.
          const error = yield* session.query(`EXPLAIN SELECT ${text} FROM "__validate_rows"`).pipe(Effect.flip, Effect.option)
          if (Option.isSome(error))
            return {
              path,
              reason: binderReason(
                error.value.reason.detail,
                columns.map((c) => c.name)
              )
            }
        }
        return undefined
      })
    for (const probe of probes) {
      const rejected = yield* session.query(probe.query).pipe(Effect.flip, Effect.option)
      if (Option.isNone(rejected)) continue
      const columns = yield* visible(probe.path)
      let reason = binderReason(
        rejected.value.reason.detail,
        columns?.map((c) => c.name),
        tables
      )
      const part = partAt(node, probe.path)
      let inside = reason.token === undefined ? undefined : findWord(part.value, reason.token)
      const step = node.table.transforms?.[Number(probe.path[1])]
      if (probe.path[0] === "transforms" && step !== undefined && "window" in step && reason.token === "time_bucket") {
        const type = columns?.find((c) => c.name === step.window.column)?.type ?? "not a date or time"
        reason = { token: step.window.column, message: `column "${step.window.column}" is ${type}; a window needs a DATE or TIMESTAMP column (cast it in an earlier step)` }
        inside = { path: ["column"], at: "value" }
      } else if (inside === undefined) {
        const text = yield* culprit(part.value, columns)
        if (text !== undefined) {
          reason = text.reason
          inside = { path: text.path, at: "value" }
        }
      }
      problems.push(yield* problemAt(locator, node, [...part.path, ...(inside?.path ?? [])], inside?.at ?? "value", reason.token, reason.message))
      // Later steps read this one: their errors would only repeat it.
      if (probe.path[0] === "transforms" || probe.path[0] === "sql") return { problems, chainBinds: false }
    }
    // A relationship's field is read from the other table, which no probe reads.
    for (const [i, e] of (node.table.expect ?? []).entries()) {
      if (!("relationships" in e)) continue
      const { to, field } = e.relationships
      const other = known.get(to as TableId)
      const names = other?._tag === "Columns" ? other.columns.map((c) => c.name) : undefined
      if (names === undefined || names.includes(field)) continue
      problems.push(
        yield* problemAt(locator, node, ["expect", i, "relationships", "field"], "value", undefined, `column "${field}" does not exist in ${to}${didYouMean(field, names)}`)
      )
    }
    if (problems.length > 0) return { problems, chainBinds: true }
    const reason = binderReason(failed.reason.detail)
    return {
      problems: [
        locator.parsed.problemAt(
          [node.layer, node.name],
          `${node.id}: ${reason.message} (in the SQL medallion compiles for this table; if the table looks right, please report it)`,
          "key"
        )
      ],
      chainBinds: true
    }
  })

/**
 * A rename of a column that its step does not read: the engine then renames nothing and says
 * nothing, and the new name is missing downstream.
 */
const renameProblems = (session: Session, node: ModelNode, probes: ReadonlyArray<Probe>, input: ReadonlyArray<Column> | undefined, locator: Locator) =>
  Effect.gen(function* () {
    const problems: Array<Problem> = []
    for (const [i, step] of (node.table.transforms ?? []).entries()) {
      if (!("rename" in step)) continue
      const before = probes.find((p) => (i === 0 ? p.path[0] === "sql" : p.path[0] === "transforms" && p.path[1] === i - 1))
      const columns = before === undefined ? input : yield* describe(session, before.query).pipe(Effect.option, Effect.map(Option.getOrUndefined))
      if (columns === undefined) continue
      const names = columns.map((c) => c.name)
      for (const from of Object.keys(step.rename)) {
        if (names.includes(from)) continue
        problems.push(yield* problemAt(locator, node, ["transforms", i, "rename", from], "key", undefined, `column "${from}" does not exist${didYouMean(from, names)}`))
      }
    }
    return problems
  })

/** Mistakes that bind but fail on the first row, and names checked against the output's columns. */
const afterBuild = (session: Session, node: ModelNode, columns: ReadonlyArray<Column>, locator: Locator) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const d = executor.dialect
    const problems: Array<Problem> = []
    const names = columns.map((c) => c.name).filter((c) => !own.test(c))
    for (const [i, target] of (node.table.targets ?? []).entries()) {
      for (const [j, column] of (target.partition_by ?? []).entries()) {
        if (names.includes(column)) continue
        problems.push(
          yield* problemAt(
            locator,
            node,
            ["targets", i, "partition_by", j],
            "value",
            undefined,
            `column "${column}" is not a column of ${node.id}${didYouMean(column, names)} (its columns: ${names.join(", ")})`
          )
        )
      }
    }
    // `accepted_values` compares the column with each value as a literal of the column's type: one
    // that is not of that type fails the table at the first row.
    for (const [i, e] of (node.table.expect ?? []).entries()) {
      if (!("accepted_values" in e)) continue
      const type = columns.find((c) => c.name === e.accepted_values.column)?.type
      if (type === undefined || type === "VARCHAR") continue
      const values = e.accepted_values.values.map(String)
      const row = yield* session.query(`SELECT ${values.map((v, k) => `TRY_CAST(${d.literal(v)} AS ${type}) IS NULL AS ${d.quote(`v${k}`)}`).join(", ")}`).pipe(Effect.option)
      if (Option.isNone(row)) continue
      const bad = values.findIndex((_, k) => row.value[0]?.[`v${k}`] === true)
      if (bad < 0) continue
      problems.push(
        yield* problemAt(
          locator,
          node,
          ["expect", i, "accepted_values", "values", bad],
          "value",
          undefined,
          `${JSON.stringify(values[bad])} is not a ${type} (the type of column ${e.accepted_values.column}), so apply would fail comparing them; write a value of that type, or cast the column to text in a transform`
        )
      )
    }
    return problems
  })

/** Binds one silver or gold table; its problems, or its output's columns. */
const bindModel = (node: ModelNode, known: ReadonlyMap<TableId, Known>, tables: ReadonlyArray<TableId>, locator: Locator) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const d = executor.dialect
    const inputKnown = node.input === undefined ? undefined : known.get(node.input)
    const input = inputKnown?._tag === "Columns" ? inputKnown.columns : undefined
    if (node.mode === "append" && node.input !== undefined && input !== undefined && !input.some((c) => c.name === "_batch_id")) {
      return {
        problems: [
          locator.parsed.problemAt(
            [node.layer, node.name, "mode"],
            `${node.id}.mode: mode: append reads the new batches of ${node.input} by their _batch_id, but ${node.input} has no _batch_id column (a select or drop upstream removed it); keep it there, or use mode: replace`
          )
        ],
        columns: undefined
      }
    }
    const program = compileModel(d, node, { batchId: "validate", startedAt: "1970-01-01T00:00:00Z", inputColumns: input?.map((c) => c.name) })
    const [layer, name] = [node.layer, node.name]
    const target = d.table(layer, name)
    return yield* executor.withSession((session) =>
      Effect.gen(function* () {
        const failed = yield* firstFailure(session, tableStatements(node, program, target, d))
        if (Option.isNone(failed)) {
          const columns = yield* columnsOf(session, layer, name)
          const problems = [...(yield* renameProblems(session, node, program.probes, input, locator)), ...(yield* afterBuild(session, node, columns, locator))]
          return { problems, columns }
        }
        const located = yield* locate(session, node, program.probes, input, known, tables, failed.value, locator)
        if (!located.chainBinds) return { problems: located.problems, columns: undefined }
        // Only an expectation or a key is wrong: the rows are known, so the tables reading them are checked too.
        const columns = yield* session
          .execute(d.createTable(target, `SELECT * FROM (${program.chainQuery}) AS q LIMIT 0`))
          .pipe(Effect.andThen(columnsOf(session, layer, name)), Effect.option)
        if (Option.isNone(columns)) return { problems: located.problems, columns: undefined }
        const more = [...(yield* renameProblems(session, node, program.probes, input, locator)), ...(yield* afterBuild(session, node, columns.value, locator))]
        return { problems: [...located.problems, ...more], columns: columns.value }
      })
    )
  })

/**
 * Checks the SQL of every table of the plan over empty tables on the Executor given (a scratch
 * in-memory DuckDB). `projectDir` is where source paths are relative to.
 */
export const bindPlan = Effect.fn("medallion.bind")(function* (
  plan: Plan,
  parsed: ReadonlyArray<ParsedPipeline>,
  projectDir: string,
  options: { readonly concurrency?: number } = {}
) {
  const executor = yield* Executor
  const fs = yield* FileSystem.FileSystem
  const d = executor.dialect
  yield* executor.withSession((s) => Effect.forEach(["bronze", "silver", "gold"] as const, (layer) => s.execute(d.createSchema(layer)), { discard: true }))
  const locators = new Map<string, Locator>(
    parsed.map((p) => [
      p.file,
      {
        parsed: p,
        text: fs.readFileString(p.file).pipe(
          Effect.map((t): string | undefined => t),
          Effect.orElseSucceed(() => undefined)
        )
      }
    ])
  )
  const known = new Map<TableId, Known>()
  const mistaken = new Set<TableId>()
  const done = new Map<TableId, Deferred.Deferred<Known>>()
  for (const id of plan.order) done.set(id, yield* Deferred.make<Known>())
  /** One table, once the tables it reads are known; the problems it has. */
  const bind = (id: TableId) =>
    Effect.gen(function* () {
      const node = plan.nodes.get(id)!
      for (const dep of node.dependsOn) yield* Deferred.await(done.get(dep)!)
      const outcome = yield* Effect.gen(function* () {
        if (node._tag === "Ingest") return outcomeOf(yield* bindIngest(node, projectDir))
        const missing = node.dependsOn.find((dep) => known.get(dep)?._tag !== "Columns")
        if (missing !== undefined) {
          const upstream = known.get(missing)
          const why = `it reads ${missing}, which ${upstream?._tag === "Unknown" ? upstream.which : "is not checked"}`
          return outcomeOf({ _tag: "Unknown", why, which: "is not checked" })
        }
        const result = yield* bindModel(node, known, plan.order, locators.get(node.file)!)
        if (result.problems.length > 0) mistaken.add(id)
        return result.columns === undefined
          ? outcomeOf({ _tag: "Unknown", why: "it has a mistake", which: "has a mistake" }, result.problems)
          : outcomeOf({ _tag: "Columns", columns: result.columns }, result.problems)
      })
      known.set(id, outcome.known)
      yield* Deferred.succeed(done.get(id)!, outcome.known)
      return outcome.problems
    })
  // In dependency order, several at a time: a table waits only for tables started before it, so
  // the earliest unfinished one can always go on.
  const problems = yield* Effect.forEach(plan.order, bind, { concurrency: options.concurrency ?? 4 })
  const order = (a: Problem, b: Problem) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column
  return {
    problems: problems.flat().toSorted(order),
    checked: plan.order.filter((id) => known.get(id)?._tag === "Columns" && !mistaken.has(id)),
    unchecked: plan.order.flatMap((id) => {
      const k = known.get(id)
      return k?._tag === "Unknown" && !mistaken.has(id) ? [{ table: id, reason: k.why }] : []
    })
  } satisfies BindReport
})
