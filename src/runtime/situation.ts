/**
 * What change detection needs from the outside world: the stored table states, which tables
 * exist, and each table's current inputs (its files' checksums, or its upstreams' data versions).
 * Shared by apply and plan.
 */
import { Effect } from "effect"
import type { Dialect } from "../compile/Dialect.ts"
import { definitionOf, definitionParts } from "../compile/fingerprint.ts"
import { Executor } from "../executor/Executor.ts"
import { type IngestedFile, MetadataStore } from "../metadata/MetadataStore.ts"
import { type Action, decide, type TableState } from "../plan/changes.ts"
import { inputModeOf, type Plan, type PlanNode, type TableId } from "../plan/Plan.ts"
import { layers } from "../spec/Pipeline.ts"
import { findFiles, type FoundFile, listFiles, withChecksums, withKnownChecksums } from "./files.ts"

export interface Situation {
  readonly states: ReadonlyMap<string, TableState>
  /** `layer.name` of every table and view in the warehouse. */
  readonly existing: ReadonlySet<string>
}

export const loadSituation = Effect.gen(function* () {
  const executor = yield* Executor
  const store = yield* MetadataStore
  const states = yield* store.tableStates
  const rows = yield* executor.withSession((s) => s.query(executor.dialect.tablesIn(layers)))
  return { states, existing: new Set(rows.map((r) => String(r["id"]))) } satisfies Situation
})

/** What assessing a table needs that the warehouse does not hold: its definition's parts and, for bronze, its files. */
export interface Prepared {
  readonly parts: Readonly<Record<string, string>>
  /** Bronze: the source's files, listed without checksums; undefined if listing failed (assess lists again and reports it). */
  readonly files: ReadonlyArray<FoundFile> | undefined
}

/** The assessment's inputs that need no warehouse, computed while the engine works on something else. */
const prepare = (node: PlanNode, projectDir: string, dialect: Dialect) =>
  Effect.gen(function* () {
    const files = node._tag === "Ingest" ? yield* listFiles(node.id, projectDir, node.source.path).pipe(Effect.orElseSucceed(() => undefined)) : undefined
    return { parts: definitionParts(dialect, node), files } satisfies Prepared
  })

/** `prepare` for each of `ids`. */
export const prepareAll = (plan: Plan, ids: Iterable<TableId>, projectDir: string, dialect: Dialect) =>
  Effect.forEach(ids, (id) => Effect.map(prepare(plan.nodes.get(id)!, projectDir, dialect), (p) => [id, p] as const), { concurrency: "unbounded" }).pipe(
    Effect.map((entries): ReadonlyMap<TableId, Prepared> => new Map(entries))
  )

export interface Assessment {
  readonly action: Action
  readonly parts: Readonly<Record<string, string>>
  readonly inputs: Readonly<Record<string, string>>
  /** Bronze: the source's files; a checksum not needed for the decision may still be pending. */
  readonly files: ReadonlyArray<FoundFile>
  /** The definition as written, recorded with the table's state (plan --diff compares with it). */
  readonly definition: Readonly<Record<string, unknown>>
}

/** Stands for a checksum not computed yet; never equal to a stored one. */
const pending = "(pending)"

/** The assessment with every file's checksum computed (reading the files whose checksum is pending). */
export const checksummed = (node: PlanNode, assessment: Assessment) =>
  Effect.gen(function* () {
    const files = yield* withChecksums(node.id, assessment.files)
    return node._tag === "Ingest" ? { ...assessment, files, inputs: Object.fromEntries(files.map((f) => [f.path, f.checksum])) } : { ...assessment, files }
  })

/** Decides what `node` needs, given the current data version of each table (as far as this run has got). */
export const assess = (
  plan: Plan,
  node: PlanNode,
  situation: Situation,
  versions: ReadonlyMap<TableId, string>,
  options: { readonly projectDir: string; readonly fullRefresh: boolean },
  prepared?: Prepared
) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const state = situation.states.get(node.id)
    let files: ReadonlyArray<FoundFile> = []
    let inputs: Record<string, string>
    if (node._tag === "Ingest") {
      const known = new Map(
        Object.entries(state?.files ?? {}).map(([path, meta]) => [path, { path, size: meta.size, modifiedAt: meta.modifiedAt, checksum: state?.inputs[path] ?? "" }])
      )
      const found = prepared?.files !== undefined ? withKnownChecksums(prepared.files, known) : yield* findFiles(node.id, options.projectDir, node.source.path, known)
      // A new file, or one whose size changed, is new input whatever its content: its checksum is
      // only recorded, so reading it can wait (the run hashes it while the engine reads it). A
      // file of the same size with a new modification time may be unchanged: hash it now.
      const sameSize = found.filter((f) => f.checksum === undefined && known.get(f.path)?.size === f.size)
      const hashed = new Map((yield* withChecksums(node.id, sameSize)).map((f) => [f.path, f.checksum]))
      files = found.map((f) => ({ ...f, checksum: f.checksum ?? hashed.get(f.path) }))
      inputs = Object.fromEntries(files.map((f) => [f.path, f.checksum ?? pending]))
    } else {
      inputs = Object.fromEntries(node.dependsOn.map((dep) => [dep, versions.get(dep) ?? "none"]))
    }
    const parts = prepared?.parts ?? definitionParts(dialect, node)
    const action = decide({
      node,
      parts,
      inputs,
      state,
      exists: situation.existing.has(node.id),
      fullRefresh: options.fullRefresh,
      inputMode: node._tag === "Model" && node.input !== undefined ? inputModeOf(plan, node.input) : undefined
    })
    const assessment: Assessment = { action, parts, inputs, files, definition: definitionOf(node) }
    // Ingesting only new files compares their content with what was ingested before: hash now.
    return action._tag === "Incremental" ? yield* checksummed(node, assessment) : assessment
  })

/** The state to store after a table is published (or found to have nothing new). */
export const stateAfter = (assessment: Assessment & { readonly files: ReadonlyArray<IngestedFile> }, dataVersion: string): TableState => ({
  parts: assessment.parts,
  inputs: assessment.inputs,
  definition: assessment.definition,
  dataVersion,
  files: Object.fromEntries(assessment.files.map((f) => [f.path, { size: f.size, modifiedAt: f.modifiedAt }]))
})
