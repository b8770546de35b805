/**
 * What each table needs: create, rebuild, incremental or skip, and why. Pure: the caller passes
 * the table's definition parts, its current inputs and the state stored by its last run.
 */
import type { PlanNode } from "./Plan.ts"
import { reshapes } from "./Plan.ts"

/** What the last successful run of a table recorded. */
export interface TableState {
  /** Hash per definition part (see compile/fingerprint.ts). */
  readonly parts: Readonly<Record<string, string>>
  /** What the table was built from: upstream data versions, or its files' fingerprint. */
  readonly inputs: Readonly<Record<string, string>>
  /** Changes whenever the table's rows change: the batch id of its last write. */
  readonly dataVersion: string
  /** Bronze: size and modification time per file, so unchanged files need not be hashed again. */
  readonly files: Readonly<Record<string, { readonly size: number; readonly modifiedAt: string | null }>>
  /** The definition's parts as written (compile/fingerprint.ts definitionOf), for `plan --diff`; absent in older stores. */
  readonly definition?: Readonly<Record<string, unknown>> | undefined
}

export type Action =
  | { readonly _tag: "Create"; readonly reasons: ReadonlyArray<string> }
  | { readonly _tag: "Rebuild"; readonly reasons: ReadonlyArray<string> }
  | { readonly _tag: "Incremental"; readonly reasons: ReadonlyArray<string> }
  | { readonly _tag: "Skip"; readonly reasons: ReadonlyArray<string> }

export const actionName = (action: Action): string => action._tag.toLowerCase()

const changedKeys = (before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>) =>
  [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]).sort()

/**
 * Whether the table can take just the new input batches: an append or merge whose steps keep
 * the grain (an aggregate or sql step needs all rows) and whose input keeps batches (an append).
 */
export const runsIncrementally = (node: PlanNode, inputMode: string | undefined): boolean =>
  node._tag === "Ingest" ? node.mode === "append" : node.mode === "merge" || (node.mode === "append" && inputMode === "append" && !(node.table.transforms ?? []).some(reshapes))

/**
 * A data version is `<rebuilt>/<written>`: the batch that last rebuilt the table and the batch that
 * last wrote to it. An append adds to the second only; a dependent that consumes batches must
 * rebuild when the first changes, since the batches it consumed are gone.
 */
export const dataVersion = (rebuiltBy: string, writtenBy: string) => `${rebuiltBy}/${writtenBy}`
const rebuiltBy = (version: string | undefined) => version?.split("/")[0]

export interface DecideInput {
  readonly node: PlanNode
  readonly parts: Readonly<Record<string, string>>
  readonly inputs: Readonly<Record<string, string>>
  readonly state: TableState | undefined
  readonly exists: boolean
  readonly fullRefresh: boolean
  /** The mode of the table's `from:` input, when it has one. */
  readonly inputMode: string | undefined
}

export const decide = ({ node, parts, inputs, state, exists, fullRefresh, inputMode }: DecideInput): Action => {
  if (state === undefined || !exists) return { _tag: "Create", reasons: [exists ? "no state recorded" : "new table"] }
  if (fullRefresh) return { _tag: "Rebuild", reasons: ["--full-refresh"] }
  const incremental = runsIncrementally(node, inputMode)
  const specChanges = changedKeys(state.parts, parts)
  const named = specChanges.filter((k) => k !== "sql")
  const specReason = specChanges.length === 0 ? undefined : named.length > 0 ? `spec changed: ${named.join(", ")}` : "compiled SQL changed (new medallion version)"
  const inputChanges = changedKeys(state.inputs, inputs)
  const inputReason = inputChanges.length === 0 ? undefined : node._tag === "Ingest" ? "files changed" : `new data in ${inputChanges.join(", ")}`
  if (specReason !== undefined) {
    // Bronze keeps history that the current files may no longer hold: a new spec applies to new files.
    if (node._tag === "Ingest" && node.mode === "append") {
      return { _tag: "Incremental", reasons: [`${specReason} (applies to new files; --full-refresh re-ingests all)`, ...(inputReason ? [inputReason] : [])] }
    }
    return { _tag: "Rebuild", reasons: [specReason] }
  }
  if (inputReason !== undefined) {
    const rebuiltInputs = node._tag === "Model" && node.mode === "append" ? inputChanges.filter((k) => rebuiltBy(state.inputs[k]) !== rebuiltBy(inputs[k])) : []
    if (rebuiltInputs.length > 0) return { _tag: "Rebuild", reasons: [`${rebuiltInputs.join(", ")} was rebuilt, so its batches are new`] }
    if (incremental)
      return {
        _tag: "Incremental",
        reasons: [node._tag === "Model" && node.mode === "merge" && inputMode !== "append" ? `${inputReason} (merged in whole: the input is rebuilt, not appended)` : inputReason]
      }
    const why =
      node._tag === "Model" && (node.mode === "append" || node.mode === "merge")
        ? inputMode !== "append"
          ? ` (its input ${node.input ?? "sql"} is rebuilt, not appended)`
          : " (an aggregate or sql step needs all rows)"
        : ""
    return { _tag: "Rebuild", reasons: [`${inputReason}${why}`] }
  }
  return { _tag: "Skip", reasons: ["unchanged: same definition and inputs as the last run"] }
}
