/**
 * Turns the classification of staged rows into the table's counts. Pure. Every staged row lands in
 * exactly one bucket: duplicate, dropped (by reason), quarantined or out.
 */
import type { ExpectationPlan } from "../compile/model.ts"
import { CAST_FAIL, CAST_QUARANTINE, REMOVED } from "../compile/model.ts"
import type { Row } from "../executor/Executor.ts"
import type { ExpectationResult } from "../metadata/MetadataStore.ts"

export interface Accounting {
  readonly rowsIn: number
  readonly rowsOut: number
  readonly quarantined: number
  readonly duplicates: number
  readonly droppedByReason: Readonly<Record<string, number>>
  readonly dropped: number
  readonly expectations: ReadonlyArray<ExpectationResult>
  /** Columns whose cast is set to fail, with the number of rows that could not be cast. */
  readonly castFailures: ReadonlyArray<readonly [string, number]>
}

const list = (value: unknown): ReadonlyArray<string> => (Array.isArray(value) ? value.map(String) : [])

export const account = (rows: ReadonlyArray<Row>, expectations: ReadonlyArray<ExpectationPlan>): Accounting => {
  let rowsIn = 0,
    rowsOut = 0,
    quarantined = 0,
    duplicates = 0,
    alive = 0
  const droppedByReason: Record<string, number> = {}
  const failed = expectations.map(() => 0)
  const castFailures = new Map<string, number>()
  const drop = (reason: string, n: number) => (droppedByReason[reason] = (droppedByReason[reason] ?? 0) + n)
  for (const row of rows) {
    const n = Number(row["n"])
    rowsIn += n
    const removed = row[REMOVED]
    if (removed === "duplicate") {
      duplicates += n
      continue
    }
    if (typeof removed === "string") {
      drop(removed, n)
      continue
    }
    alive += n
    const flags = expectations.map((e) => row[e.flag] === true)
    for (const [i, f] of flags.entries()) if (f) failed[i]! += n
    for (const column of list(row[CAST_FAIL])) castFailures.set(column, (castFailures.get(column) ?? 0) + n)
    if (row[CAST_QUARANTINE] === true || expectations.some((e, i) => flags[i] && e.onFail === "quarantine")) {
      quarantined += n
      continue
    }
    const droppedBy = expectations.find((e, i) => flags[i] && e.onFail === "drop")
    if (droppedBy !== undefined) {
      drop(`expectation:${droppedBy.name}`, n)
      continue
    }
    rowsOut += n
  }
  return {
    rowsIn,
    rowsOut,
    quarantined,
    duplicates,
    droppedByReason,
    dropped: Object.values(droppedByReason).reduce((a, b) => a + b, 0),
    expectations: expectations.map((e, i) => ({ expectation: e.name, kind: e.kind, on_fail: e.onFail, passed: alive - failed[i]!, failed: failed[i]! })),
    castFailures: [...castFailures]
  }
}
