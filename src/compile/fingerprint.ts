/**
 * What a table's definition is made of, part by part, for change detection: the declaration's
 * parts (normalized) and the SQL the compiler makes of them. Pure; hashed with spec/hash.ts.
 */
import type { PlanNode } from "../plan/Plan.ts"
import { hash } from "../spec/hash.ts"
import type { Dialect } from "./Dialect.ts"
import { compileIngest } from "./ingest.ts"
import { compileModel } from "./model.ts"

/** Bumped when compiled SQL changes meaning for the same declaration, so every table rebuilds once. */
const compilerVersion = "2"

const stable = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v
  ) ?? "null"

const placeholders = { batchId: "", startedAt: "1970-01-01T00:00:00.000Z" }

/** The parts of a table's definition as written (normalized), under the names definitionParts hashes them. */
export const definitionOf = (node: PlanNode): Readonly<Record<string, unknown>> => {
  if (node._tag === "Ingest") {
    const { description: _, ...source } = node.source
    return JSON.parse(stable({ source, mode: node.mode })) as Record<string, unknown>
  }
  const t = node.table
  return JSON.parse(
    stable({
      input: { from: t.from, sql: t.sql },
      transforms: t.transforms ?? [],
      expect: t.expect ?? [],
      mode: { mode: node.mode, key: t.key, sequence_by: t.sequence_by },
      targets: t.targets ?? []
    })
  ) as Record<string, unknown>
}

/** The parts of a table's definition, each hashed, so a change can be named ("spec changed: transforms"). */
export const definitionParts = (d: Dialect, node: PlanNode): Readonly<Record<string, string>> => {
  if (node._tag === "Ingest") {
    const { description: _, ...source } = node.source
    return {
      source: hash(stable(source)),
      mode: hash(node.mode),
      sql: hash(compilerVersion + compileIngest(d, node, { ...placeholders, files: [{ path: "", name: "", batchId: "", ingestedAt: placeholders.startedAt }] }).reads[0])
    }
  }
  const t = node.table
  return {
    input: hash(stable({ from: t.from, sql: t.sql })),
    transforms: hash(stable(t.transforms ?? [])),
    expect: hash(stable(t.expect ?? [])),
    mode: hash(stable({ mode: node.mode, key: t.key, sequence_by: t.sequence_by })),
    targets: hash(stable(t.targets ?? [])),
    sql: hash(compilerVersion + compileModel(d, node, placeholders).buildStage)
  }
}
