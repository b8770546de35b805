/**
 * `--select`: which tables of a plan to run. Pure. Understands `silver.orders`,
 * `+gold.daily_revenue` (with everything upstream), `silver.orders+` (with everything downstream)
 * and `layer:silver`; several selectors are a union.
 */
import { Result, Schema } from "effect"
import { didYouMean } from "../spec/suggest.ts"
import type { Plan, TableId } from "./Plan.ts"

export class SelectionError extends Schema.TaggedError<SelectionError>()("SelectionError", {
  selector: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.selector}: ${this.reason}`
  }
}

const closure = (start: TableId, next: (id: TableId) => ReadonlyArray<TableId>): ReadonlyArray<TableId> => {
  const seen = new Set<TableId>([start])
  const queue = [start]
  while (queue.length > 0) {
    for (const n of next(queue.pop()!)) {
      if (!seen.has(n)) {
        seen.add(n)
        queue.push(n)
      }
    }
  }
  return [...seen]
}

export const selectTables = (plan: Plan, selectors: ReadonlyArray<string>): Result.Result<ReadonlySet<TableId>, SelectionError> => {
  if (selectors.length === 0) return Result.succeed(new Set(plan.order))
  const dependents = new Map<TableId, Array<TableId>>()
  for (const node of plan.nodes.values()) {
    for (const dep of node.dependsOn) dependents.set(dep, [...(dependents.get(dep) ?? []), node.id])
  }
  const selected = new Set<TableId>()
  const items = selectors
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "")
  if (items.length === 0) return Result.fail(new SelectionError({ selector: selectors.join(","), reason: "empty selection; name tables such as silver.orders or layer:silver" }))
  for (const raw of items) {
    if (raw.startsWith("layer:")) {
      const layer = raw.slice("layer:".length)
      const ids = plan.order.filter((id) => plan.nodes.get(id)!.layer === layer)
      if (ids.length === 0)
        return Result.fail(
          new SelectionError({
            selector: raw,
            reason: `no tables in layer "${layer}"${didYouMean(
              layer,
              ["bronze", "silver", "gold"].filter((l) => l !== layer)
            )}`
          })
        )
      for (const id of ids) selected.add(id)
      continue
    }
    const upstream = raw.startsWith("+")
    const downstream = raw.endsWith("+")
    const id = raw.slice(upstream ? 1 : 0, downstream ? -1 : undefined) as TableId
    if (!plan.nodes.has(id)) {
      return Result.fail(new SelectionError({ selector: raw, reason: `unknown table "${id}"${didYouMean(id, plan.nodes.keys())}` }))
    }
    selected.add(id)
    if (upstream) for (const n of closure(id, (n) => plan.nodes.get(n)!.dependsOn)) selected.add(n)
    if (downstream) for (const n of closure(id, (n) => dependents.get(n) ?? [])) selected.add(n)
  }
  return Result.succeed(selected)
}
