/**
 * `medallion plan`: what apply would do to each table and why, computed with the same change
 * detection as apply, without writing anything (the warehouse is opened read-only).
 */
import { Effect, Result } from "effect"
import { readSource } from "../compile/ingest.ts"
import { Executor } from "../executor/Executor.ts"
import { MetadataStore } from "../metadata/MetadataStore.ts"
import { actionName, dataVersion } from "../plan/changes.ts"
import { diffDefinitions } from "../plan/diff.ts"
import type { Plan, PlanNode, TableId } from "../plan/Plan.ts"
import type { Layer } from "../spec/Pipeline.ts"
import { columnsOf } from "./catalog.ts"
import { filesToIngest, type FoundFile, withChecksums } from "./files.ts"
import { assess, type Situation } from "./situation.ts"

export interface PlannedTable {
  readonly table: TableId
  readonly pipeline: string
  readonly mode: string
  readonly action: "create" | "rebuild" | "incremental" | "skip"
  readonly reasons: ReadonlyArray<string>
  readonly depends_on: ReadonlyArray<TableId>
  /** Bronze: files to read; silver and gold: input batches not yet consumed (when known). */
  readonly new_inputs: number | null
  /** Rows in those files or batches (when they can be counted before the run). */
  readonly new_rows: number | null
  /** Columns the new input has that the table lacks. */
  readonly new_columns: ReadonlyArray<string>
  /** What changed in the definition since the table was last built (plan/diff.ts); empty when unknown. */
  readonly changes: ReadonlyArray<string>
}

const PENDING = "(changes in this run)"

/** What one incremental table would take in: its new files or batches, their rows and new columns. */
const incoming = (node: PlanNode, files: ReadonlyArray<FoundFile>, upstreamPending: boolean) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const store = yield* MetadataStore
    const d = executor.dialect
    return yield* executor.withSession((s) =>
      Effect.gen(function* () {
        const existing = (yield* columnsOf(s, node.layer, node.name)).map((c) => c.name)
        if (node._tag === "Ingest") {
          const ledger = yield* store.ingestedFiles(node.id)
          const selected = yield* withChecksums(node.id, files).pipe(
            Effect.flatMap((all) => filesToIngest(node, all, ledger)),
            Effect.result
          )
          if (Result.isFailure(selected)) return { inputs: 0, rows: 0, columns: [], problem: `will fail: ${selected.failure.message}` }
          const fresh = selected.success.read.filter((f) => f.size > 0)
          if (fresh.length === 0) return { inputs: 0, rows: 0, columns: [], problem: undefined }
          // Each file is read on its own, as apply does.
          let rows = 0
          const columns = new Set<string>()
          for (const file of fresh) {
            const read = readSource(d, node, file.path)
            rows += Number((yield* s.query(`SELECT count(*) AS n FROM (${read}) AS files`))[0]?.["n"] ?? 0)
            for (const c of yield* s.query(d.describe(read))) columns.add(String(c[d.describeColumns.name]))
          }
          return { inputs: fresh.length, rows, columns: existing.length === 0 ? [] : [...columns].filter((c) => !existing.includes(c)), problem: undefined }
        }
        if (upstreamPending || node.input === undefined) return { inputs: null, rows: null, columns: [], problem: undefined }
        const [layer, name] = node.input.split(".") as [Layer, string]
        const consumed = yield* store.consumedBatches(node.id, node.input)
        const counts = yield* s.query(`SELECT _batch_id AS b, count(*) AS n FROM ${d.table(layer, name)} GROUP BY 1`)
        const fresh = counts.filter((r) => !consumed.has(String(r["b"])))
        return { inputs: fresh.length, rows: fresh.reduce((a, r) => a + Number(r["n"]), 0), columns: [], problem: undefined }
      })
    )
  })

export const planChanges = (
  plan: Plan,
  selected: ReadonlySet<TableId>,
  situation: Situation,
  options: { readonly projectDir: string; readonly fullRefresh: ReadonlySet<TableId> }
) =>
  Effect.gen(function* () {
    const versions = new Map<TableId, string>(Array.from(situation.states, ([id, s]) => [id as TableId, s.dataVersion]))
    const planned: Array<PlannedTable> = []
    for (const id of plan.order.filter((t) => selected.has(t))) {
      const node = plan.nodes.get(id)!
      const assessment = yield* assess(plan, node, situation, versions, { projectDir: options.projectDir, fullRefresh: options.fullRefresh.has(id) })
      const action = assessment.action
      const state = situation.states.get(id)
      // The version this run would give the table (see dataVersion): an increment keeps its rebuild part.
      const previous = versions.get(id)
      if (action._tag !== "Skip") {
        versions.set(id, dataVersion(action._tag === "Incremental" && previous !== undefined ? previous.split("/")[0]! : PENDING, PENDING))
      }
      const pendingUpstream = node.dependsOn.some((dep) => versions.get(dep)?.endsWith(`/${PENDING}`) === true)
      const details =
        action._tag === "Incremental"
          ? yield* incoming(node, assessment.files, pendingUpstream)
          : { inputs: null, rows: null, columns: [] as ReadonlyArray<string>, problem: undefined }
      planned.push({
        table: id,
        pipeline: node.pipeline,
        mode: node.mode,
        action: actionName(action) as PlannedTable["action"],
        reasons: details.problem === undefined ? action.reasons : [...action.reasons, details.problem],
        depends_on: node.dependsOn,
        new_inputs: details.inputs,
        new_rows: details.rows,
        new_columns: details.columns,
        changes: state?.definition === undefined ? [] : diffDefinitions(state.definition, assessment.definition)
      })
    }
    return planned
  })
