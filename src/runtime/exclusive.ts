/**
 * Which tables run alone on embedded DuckDB. DuckDB spreads each statement over all its threads,
 * so two large tables at once only contend for the same cores (10M rows on 2 cores: concurrency 4
 * took ~10% longer than 1, BENCHMARKS.md); small tables still run side by side. A table is large
 * when the source files it reads, directly or through its upstream tables, total more than the
 * threshold. Pure.
 */
import type { PlanNode, TableId } from "../plan/Plan.ts"

/** Source files above this many bytes in total make a table run alone. */
export const runAloneAboveBytes = 256 * 1024 * 1024

export const tablesToRunAlone = (
  nodes: ReadonlyMap<TableId, Pick<PlanNode, "_tag" | "dependsOn">>,
  tables: ReadonlyArray<TableId>,
  sourceBytes: (bronze: TableId) => number,
  threshold: number
): ReadonlySet<TableId> => {
  /** The bronze tables a table reads from, itself included when it is one. */
  const sources = (id: TableId, into = new Set<TableId>()): Set<TableId> => {
    const node = nodes.get(id)
    if (node === undefined || into.has(id)) return into
    into.add(id)
    for (const dep of node.dependsOn) sources(dep, into)
    return into
  }
  return new Set(tables.filter((id) => {
    let bytes = 0
    for (const source of sources(id)) if (nodes.get(source)?._tag === "Ingest") bytes += sourceBytes(source)
    return bytes > threshold
  }))
}
