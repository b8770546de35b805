/**
 * The plan: every table of every given pipeline file as a node of one DAG, in dependency order.
 * Pure. Owns reference resolution, cycle detection, table-level rules that need more than one
 * file, and `--select`. Does not compile SQL or look at data.
 */
import { Cron, DateTime, Result } from "effect"
import type { ParsedPipeline, YamlPath } from "../spec/parse.ts"
import type { BronzeTable, JoinUnmatched, Layer, OnFail, Pipeline, Retry, Source, Step, Table } from "../spec/Pipeline.ts"
import { layers, namePattern } from "../spec/Pipeline.ts"
import { type Problem, SpecError } from "../spec/SpecError.ts"
import { didYouMean } from "../spec/suggest.ts"
import { internalTables, reservedName } from "./reserved.ts"

export type TableId = `${Layer}.${string}`

interface NodeBase {
  readonly id: TableId
  readonly layer: Layer
  readonly name: string
  readonly pipeline: string
  readonly file: string
  /** Where the table is declared, as file:line:col. */
  readonly location: string
  /** Where a part of the table is written, as file:line:col: a path below the table, e.g. ["transforms", 2]. */
  readonly locate: (path: YamlPath) => string
  /** Tables this one reads, directly or through join/relationships/sql references. */
  readonly dependsOn: ReadonlyArray<TableId>
  readonly retry: Retry | undefined
  /** The table's time limit (its own, else the pipeline's), as written. */
  readonly timeout: string | undefined
}

export interface IngestNode extends NodeBase {
  readonly _tag: "Ingest"
  readonly sourceName: string
  readonly source: Source
  readonly mode: "replace" | "append"
  readonly table: BronzeTable
}

export interface ModelNode extends NodeBase {
  readonly _tag: "Model"
  readonly mode: "replace" | "append" | "merge" | "view"
  readonly table: Table
  /** The table `from:` names; undefined when the table starts from `sql:`. */
  readonly input: TableId | undefined
}

export type PlanNode = IngestNode | ModelNode

export interface Plan {
  readonly pipelines: ReadonlyArray<Pipeline>
  readonly nodes: ReadonlyMap<TableId, PlanNode>
  /** Dependency order: every node comes after the nodes it depends on. */
  readonly order: ReadonlyArray<TableId>
}

const referencePattern = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}/g

/** `{{ layer.table }}` references in a SQL text, and anything else between braces. */
export const sqlReferences = (sql: string): ReadonlyArray<string> => Array.from(sql.matchAll(referencePattern), (m) => (m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`))

/** Whether a table can set rows aside into `<table>__quarantine`: a cast, a join or an expectation that quarantines. */
export const quarantinesRows = (table: Table): boolean =>
  (table.transforms ?? []).some((s) => ("cast" in s && "columns" in s.cast && s.cast.on_error === "quarantine") || ("join" in s && unmatchedRows(s.join) === "quarantine")) ||
  (table.expect ?? []).some((e) => e.on_fail === "quarantine")

const quarantineSuffix = "__quarantine"

/**
 * The table whose rows a reference reads: the table itself, or the owner of a quarantine table
 * (`silver.orders__quarantine` is written with `silver.orders`, in its publishing transaction, so
 * it changes when and only when its owner does).
 */
const writtenWith = (ref: TableId): TableId => (ref.endsWith(quarantineSuffix) ? ref.slice(0, -quarantineSuffix.length) : ref) as TableId

/**
 * The mode a table reads its input with: its own, or for a quarantine table, `append` when its
 * owner adds to it on each run (an append or merge table) and `replace` when it is rebuilt.
 */
export const inputModeOf = (plan: { readonly nodes: ReadonlyMap<TableId, PlanNode> }, ref: TableId): PlanNode["mode"] | undefined => {
  const owner = plan.nodes.get(writtenWith(ref))
  if (owner === undefined || ref === owner.id) return owner?.mode
  return owner.mode === "append" || owner.mode === "merge" ? "append" : "replace"
}

/** Steps that change the grain of the rows: row accounting restarts after the last one. */
export const reshapes = (step: Step): boolean => "aggregate" in step || "sql" in step || "top" in step

export type JoinStep = Extract<Step, { join: unknown }>["join"]

/** What a join does with a row whose key has no match: `on_unmatched`, else `how` (inner drops), else keep. */
export const unmatchedRows = (join: JoinStep): JoinUnmatched => join.on_unmatched ?? (join.how === "inner" ? "drop" : "keep")

const stepReferences = (step: Step): ReadonlyArray<string> => ("join" in step ? [step.join.to] : "sql" in step ? sqlReferences(step.sql).filter((r) => r !== "input") : [])

interface Located {
  readonly ref: string
  readonly path: ReadonlyArray<string | number>
}

const modelReferences = (layer: Layer, name: string, table: Table): ReadonlyArray<Located> => {
  const base = [layer, name]
  return [
    ...(table.from === undefined ? [] : [{ ref: table.from, path: [...base, "from"] }]),
    ...(table.sql === undefined ? [] : sqlReferences(table.sql).map((ref) => ({ ref, path: [...base, "sql"] }))),
    ...(table.transforms ?? []).flatMap((step, i) => stepReferences(step).map((ref) => ({ ref, path: [...base, "transforms", i, Object.keys(step)[0]!] }))),
    ...(table.expect ?? []).flatMap((e, i) => ("relationships" in e ? [{ ref: e.relationships.to, path: [...base, "expect", i, "relationships", "to"] }] : []))
  ]
}

const locationOf = (parsed: ParsedPipeline, path: YamlPath): string => {
  const p = parsed.problemAt(path, "", "key")
  return `${p.file}:${p.line}:${p.column}`
}

const onFailOf = (e: { readonly on_fail?: OnFail }): OnFail => e.on_fail ?? "warn"

/** `how` and `on_unmatched` say the same thing twice: they must agree (left is keep, inner is drop). */
const howMeans = { left: "keep", inner: "drop" } as const

/** A join's `on_unmatched` against `how`, a change of grain after it, and views. */
const joinProblems = (join: JoinStep, beforeReshape: boolean, inView: boolean, at: (message: string) => Problem): ReadonlyArray<Problem> => {
  if (join.how !== undefined && join.on_unmatched !== undefined && howMeans[join.how] !== join.on_unmatched) {
    return [at(`how: ${join.how} means on_unmatched: ${howMeans[join.how]}, which contradicts on_unmatched: ${join.on_unmatched}; on_unmatched replaces how: remove how`)]
  }
  if (unmatchedRows(join) !== "quarantine") return []
  if (beforeReshape) {
    return [
      at(
        "on_unmatched: quarantine must come after the last aggregate, top or sql step (row accounting starts again after it); move the join down, or use on_unmatched: drop to leave such rows out before the change of grain"
      )
    ]
  }
  return inView ? [at("a view cannot quarantine rows; use on_unmatched: drop or keep, or mode: replace")] : []
}

/** Rules about one table that the schema alone cannot express. */
const tableProblems = (parsed: ParsedPipeline, layer: Layer, name: string, table: Table): ReadonlyArray<Problem> => {
  const at = (path: ReadonlyArray<string | number>, message: string) => parsed.problemAt([layer, name, ...path], `${layer}.${name}: ${message}`, "key")
  const problems: Array<Problem> = []
  if ((table.from === undefined) === (table.sql === undefined)) {
    problems.push(at([], "needs exactly one of `from:` (a table) or `sql:` (a query)"))
  }
  const steps = table.transforms ?? []
  const lastReshape = steps.findLastIndex(reshapes)
  steps.forEach((step, i) => {
    if ("cast" in step && i < lastReshape && "columns" in step.cast && step.cast.on_error === "quarantine") {
      problems.push(at(["transforms", i, "cast"], "on_error: quarantine must come after the last aggregate, top or sql step; move the cast down or use on_error: null"))
    }
    if ("sql" in step && !sqlReferences(step.sql).includes("input")) {
      problems.push(at(["transforms", i, "sql"], "a sql step must read the previous step as {{ input }}"))
    }
    if ("join" in step) problems.push(...joinProblems(step.join, i < lastReshape, table.mode === "view", (message) => at(["transforms", i, "join", "on_unmatched"], message)))
  })
  if (table.mode === "merge" && (table.key === undefined || table.sequence_by === undefined)) {
    problems.push(
      at(
        ["mode"],
        "mode: merge needs key: [columns] that identify a row and sequence_by: a column that orders its versions (e.g. updated_at), so the newest version wins every time"
      )
    )
  }
  if (table.mode !== "merge") {
    if (table.key !== undefined) problems.push(at(["key"], "key is for mode: merge; add mode: merge or remove key"))
    if (table.sequence_by !== undefined) problems.push(at(["sequence_by"], "sequence_by is for mode: merge; add mode: merge or remove it"))
  }
  // An append or merge reads only its input's new batches (unless a change of grain makes it
  // rebuild every time), so what looks across rows must not look only at the batch.
  if ((table.mode === "append" || table.mode === "merge") && lastReshape === -1) {
    steps.forEach((step, i) => {
      if ("dedupe" in step) {
        problems.push(
          at(
            ["transforms", i, "dedupe"],
            table.mode === "append"
              ? "a dedupe in an append table sees only each new batch, so a key sent again in a later batch would be appended twice; use mode: merge with key: [...] and sequence_by: (the newest version of each key wins, across batches), or mode: replace"
              : "mode: merge already keeps one row per key, the newest by sequence_by across all batches; a dedupe step sees only each new batch and could keep another row than a rebuild would. Remove it (merge dedupes by key), or use mode: replace"
          )
        )
      }
    })
    ;(table.expect ?? []).forEach((e, i) => {
      if (!("unique" in e)) return
      if (table.mode === "merge" && !(table.key ?? []).every((k) => e.unique.includes(k))) {
        problems.push(
          at(
            ["expect", i, "unique"],
            `a merge table holds one row per key (${(table.key ?? []).join(", ")}), so unique must include the key columns; uniqueness of other columns across batches is not checked by a merge: use mode: replace for it`
          )
        )
      } else if (table.mode === "append" && (onFailOf(e) === "drop" || onFailOf(e) === "quarantine")) {
        problems.push(
          at(
            ["expect", i, "on_fail"],
            `an append table checks unique against the rows already published, which a later batch cannot take back: use on_fail: fail or warn, or mode: merge with key: [${e.unique.join(", ")}] to keep the newest row per key`
          )
        )
      }
    })
  }
  if (table.mode === "view") {
    ;(table.expect ?? []).forEach((e, i) => {
      const onFail = onFailOf(e)
      if (onFail === "drop" || onFail === "quarantine") {
        problems.push(at(["expect", i], `a view cannot ${onFail} rows; use on_fail: warn or fail, or mode: replace`))
      }
    })
    steps.forEach((step, i) => {
      if ("cast" in step && "columns" in step.cast && step.cast.on_error === "quarantine") {
        problems.push(at(["transforms", i, "cast"], "a view cannot quarantine rows; use on_error: null or fail, or mode: replace"))
      }
    })
    if ((table.targets ?? []).length > 0) problems.push(at(["targets"], "targets export materialized tables; use mode: replace"))
  }
  return problems
}

const findCycle = (edges: ReadonlyMap<TableId, ReadonlyArray<TableId>>): ReadonlyArray<TableId> | undefined => {
  const state = new Map<TableId, "visiting" | "done">()
  const stack: Array<TableId> = []
  const visit = (id: TableId): ReadonlyArray<TableId> | undefined => {
    if (state.get(id) === "done") return undefined
    if (state.get(id) === "visiting") return [...stack.slice(stack.indexOf(id)), id]
    state.set(id, "visiting")
    stack.push(id)
    for (const dep of edges.get(id) ?? []) {
      const cycle = visit(dep)
      if (cycle) return cycle
    }
    stack.pop()
    state.set(id, "done")
    return undefined
  }
  for (const id of edges.keys()) {
    const cycle = visit(id)
    if (cycle) return cycle
  }
  return undefined
}

const topologicalOrder = (nodes: ReadonlyMap<TableId, PlanNode>): ReadonlyArray<TableId> => {
  const order: Array<TableId> = []
  const seen = new Set<TableId>()
  const visit = (id: TableId) => {
    if (seen.has(id)) return
    seen.add(id)
    for (const dep of nodes.get(id)?.dependsOn ?? []) visit(dep)
    order.push(id)
  }
  // Layer order first, then name: a stable, readable order for output.
  const ids = Array.from(nodes.keys()).sort((a, b) => layers.indexOf(nodes.get(a)!.layer) - layers.indexOf(nodes.get(b)!.layer) || a.localeCompare(b))
  ids.forEach(visit)
  return order
}

// UTC (the default) as a fixed offset: a named zone builds an Intl formatter, and the first one
// loads ICU's time zone data (~15 ms of every apply's start-up). UTC has no daylight saving, so
// the two give the same times.
const utc = DateTime.zoneMakeOffset(0)

/** A schedule's cron in its time zone (IANA name, UTC when absent). */
export const parseCron = (cron: string, timezone: string | undefined) => Cron.parse(cron, timezone === undefined || timezone === "UTC" ? utc : timezone)

/** Build the plan of all tables across the given pipelines, or every problem found. */
export const buildPlan = (files: ReadonlyArray<ParsedPipeline>): Result.Result<Plan, SpecError> => {
  const problems: Array<Problem> = []
  const nodes = new Map<TableId, PlanNode>()
  const located = new Map<TableId, { parsed: ParsedPipeline; refs: ReadonlyArray<Located> }>()
  const pipelineNames = new Map<string, string>()

  for (const parsed of files) {
    const spec = parsed.spec
    const previousFile = pipelineNames.get(spec.pipeline)
    if (previousFile !== undefined) {
      problems.push(parsed.problemAt(["pipeline"], `pipeline "${spec.pipeline}" is also defined in ${previousFile}; names must be unique`))
    }
    pipelineNames.set(spec.pipeline, parsed.file)
    if (spec.schedule !== undefined) {
      const cron = parseCron(spec.schedule.cron, spec.schedule.timezone)
      if (Result.isFailure(cron)) {
        const zone = cron.failure.message.includes("time zone")
        problems.push(
          parsed.problemAt(
            ["schedule", zone ? "timezone" : "cron"],
            zone
              ? `schedule.timezone: unknown time zone "${spec.schedule.timezone}"; use an IANA name such as Europe/Berlin or UTC`
              : `schedule.cron: "${spec.schedule.cron}" is not a cron expression (${cron.failure.message}); use five fields: minute hour day month weekday, e.g. "0 * * * *"`
          )
        )
      }
    }
    for (const section of ["sources", ...layers] as const) {
      for (const name of Object.keys(spec[section] ?? {})) {
        if (!namePattern.test(name)) {
          problems.push(parsed.problemAt([section, name], `${section}.${name}: names may contain only letters, digits and _ and must not start with a digit`, "key"))
        } else if (section !== "sources") {
          const reserved = reservedName(section, name)
          if (reserved !== undefined) problems.push(parsed.problemAt([section, name], `${section}.${name}: ${reserved}`, "key"))
        }
      }
    }
    const define = (node: PlanNode, refs: ReadonlyArray<Located>) => {
      const existing = nodes.get(node.id)
      if (existing !== undefined) {
        problems.push(parsed.problemAt([node.layer, node.name], `${node.id} is already defined by pipeline ${existing.pipeline} in ${existing.file}`, "key"))
        return
      }
      nodes.set(node.id, node)
      located.set(node.id, { parsed, refs })
    }
    const sources = spec.sources ?? {}
    for (const [name, table] of Object.entries(spec.bronze ?? {})) {
      const source = Object.hasOwn(sources, table.from) ? sources[table.from] : undefined
      if (source === undefined) {
        problems.push(
          parsed.problemAt(
            ["bronze", name, "from"],
            `bronze.${name}: unknown source "${table.from}"${didYouMean(table.from, Object.keys(sources))} (bronze tables read the pipeline's sources)`
          )
        )
        continue
      }
      if (source.incremental === true && table.mode === "replace") {
        problems.push(
          parsed.problemAt(
            ["bronze", name, "mode"],
            `bronze.${name}: source ${table.from} is incremental (ingest only new files), which needs mode: append; remove mode: replace or incremental: true`
          )
        )
      }
      define(
        {
          _tag: "Ingest",
          id: `bronze.${name}`,
          layer: "bronze",
          name,
          pipeline: spec.pipeline,
          file: parsed.file,
          location: locationOf(parsed, ["bronze", name]),
          locate: (path) => locationOf(parsed, ["bronze", name, ...path]),
          dependsOn: [],
          retry: table.retry ?? spec.retry,
          timeout: table.timeout ?? spec.timeout,
          sourceName: table.from,
          source,
          mode: table.mode ?? (source.incremental === true ? "append" : "replace"),
          table
        },
        []
      )
    }
    for (const layer of ["silver", "gold"] as const) {
      for (const [name, table] of Object.entries(spec[layer] ?? {})) {
        problems.push(...tableProblems(parsed, layer, name, table))
        const refs = modelReferences(layer, name, table)
        define(
          {
            _tag: "Model",
            id: `${layer}.${name}`,
            layer,
            name,
            pipeline: spec.pipeline,
            file: parsed.file,
            location: locationOf(parsed, [layer, name]),
            locate: (path) => locationOf(parsed, [layer, name, ...path]),
            dependsOn: [...new Set(refs.map((r) => writtenWith(r.ref as TableId)))],
            retry: table.retry ?? spec.retry,
            timeout: table.timeout ?? spec.timeout,
            mode: table.mode ?? "replace",
            table,
            input: table.from as TableId | undefined
          },
          refs
        )
      }
    }
  }

  // Engines compare names without case: a declared table must not be another's internal table
  // (a guard behind the suffix rule above, should the two ever differ) nor another declared table
  // spelled in another case.
  const taken = new Map<string, { readonly owner: TableId; readonly kind: string }>()
  for (const node of nodes.values()) {
    for (const internal of internalTables(node.layer, node.name)) taken.set(internal.id.toLowerCase(), { owner: node.id, kind: internal.kind })
  }
  const declared = new Map<string, TableId>()
  for (const [id, { parsed }] of located) {
    const node = nodes.get(id)!
    const internal = taken.get(id.toLowerCase())
    const same = declared.get(id.toLowerCase())
    if (reservedName(node.layer, node.name) !== undefined) {
      // Refused above, for its name.
    } else if (internal !== undefined) {
      problems.push(parsed.problemAt([node.layer, node.name], `${id}: medallion keeps ${internal.owner}'s ${internal.kind} table under this name; rename the table`, "key"))
    } else if (same !== undefined) {
      problems.push(parsed.problemAt([node.layer, node.name], `${id}: the engine does not tell it from ${same} (names are compared without case); rename one of them`, "key"))
    }
    declared.set(id.toLowerCase(), id)
  }

  for (const [id, { parsed, refs }] of located) {
    for (const { ref, path } of refs) {
      const internal = taken.get(ref.toLowerCase())
      if (ref === id) {
        problems.push(parsed.problemAt(path, `${id} refers to itself`))
      } else if (ref === "input") {
        problems.push(parsed.problemAt(path, `${id}: {{ input }} is the previous step inside a sql transform; a table-level sql reads tables as {{ layer.table }}`))
      } else if (!nodes.has(ref as TableId) && internal?.kind === "quarantine") {
        const owner = nodes.get(internal.owner)!
        if (owner.id === id) {
          problems.push(parsed.problemAt(path, `${id} cannot read its own quarantine (it is written with the table); read it from another table`))
        } else if (owner._tag !== "Model" || !quarantinesRows(owner.table)) {
          problems.push(
            parsed.problemAt(path, `${id}: ${ref} is never written: no cast, join or expectation of ${owner.id} quarantines rows (on_error, on_unmatched or on_fail: quarantine)`)
          )
        }
      } else if (!nodes.has(ref as TableId) && internal !== undefined) {
        problems.push(
          parsed.problemAt(
            path,
            `${id}: ${ref} is ${internal.owner}'s ${internal.kind} table, which medallion keeps for itself; pipelines cannot read it (look at it with medallion show ${ref})`
          )
        )
      } else if (!nodes.has(ref as TableId)) {
        const byName = [...nodes.keys()].filter((known) => known.split(".")[1] === ref)
        const hint =
          byName.length > 0
            ? `; did you mean ${byName.join(" or ")}?`
            : didYouMean(
                ref,
                [...nodes.keys()].filter((known) => known !== id)
              )
        problems.push(parsed.problemAt(path, `${id}: unknown table "${ref}"${hint}`))
      }
    }
  }
  if (problems.length > 0) return Result.fail(new SpecError({ problems }))

  // An append re-reads its input's new _batch_ids; an input rebuilt every run has only new ones.
  for (const node of nodes.values()) {
    if (node._tag !== "Model" || node.mode !== "append" || node.input === undefined) continue
    const inputMode = inputModeOf({ nodes }, node.input)
    if (inputMode !== "append") {
      const { parsed } = located.get(node.id)!
      const owner = writtenWith(node.input)
      problems.push(
        parsed.problemAt(
          [node.layer, node.name, "mode"],
          `${node.id}: mode: append reads the new batches of ${node.input}, but ${node.input} is rebuilt on every run (${owner === node.input ? "" : `with ${owner}, `}mode: ${nodes.get(owner)!.mode}), so every run would append all its rows again; make ${owner} mode: append (or its source incremental) or use mode: replace`
        )
      )
    }
  }
  if (problems.length > 0) return Result.fail(new SpecError({ problems }))

  const cycle = findCycle(new Map(Array.from(nodes, ([id, node]) => [id, node.dependsOn])))
  if (cycle !== undefined) {
    const first = located.get(cycle[0]!)!
    const ref = first.refs.find((r) => r.ref === cycle[1])
    return Result.fail(
      new SpecError({
        problems: [first.parsed.problemAt(ref?.path ?? [], `cycle: ${cycle.join(" -> ")}; a table cannot depend on itself, directly or through others`)]
      })
    )
  }
  return Result.succeed({ pipelines: files.map((f) => f.spec), nodes, order: topologicalOrder(nodes) })
}
