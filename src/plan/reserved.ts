/**
 * Names medallion makes for itself beside a declared table, which a declared table must not take:
 * `<t>__next` (a replace builds there, then swaps), `<t>__quarantine` (rows set aside),
 * `<t>__rejects` (a bronze table's malformed lines), those tables' own `__next`, and the scratch
 * tables (`__stage_<layer>_<t>`, `__rejects_bronze_<t>`, `__set_aside_bronze_<t>`, ...: any name
 * starting with `__`). The
 * compiler (compile/publish.ts, compile/ingest.ts, compile/model.ts) makes them; a test checks
 * that every name it makes is refused here. Pure. Engines compare names without case, so these
 * checks do too.
 */
import type { Layer } from "../spec/Pipeline.ts"

const suffixes = {
  __next: (layer: Layer, owner: string) => `${owner}'s new version is built in ${layer}.${owner}__next, then swapped in`,
  __quarantine: (layer: Layer, owner: string) => `${owner}'s quarantine rows go to ${layer}.${owner}__quarantine`,
  __rejects: (layer: Layer, owner: string) =>
    layer === "bronze" ? `${owner}'s malformed lines go to bronze.${owner}__rejects` : `bronze tables keep their malformed lines in <table>__rejects`
} as const

/** Why `layer.name` cannot be declared, or undefined when it can. */
export const reservedName = (layer: Layer, name: string): string | undefined => {
  const lower = name.toLowerCase()
  if (lower.startsWith("__")) {
    return `names starting with __ are reserved for medallion's own tables (such as the scratch table __stage_${layer}_<table>); rename the table`
  }
  for (const [suffix, explain] of Object.entries(suffixes)) {
    if (lower.endsWith(suffix)) {
      return `the suffix ${suffix} is reserved for medallion's own tables (${explain(layer, name.slice(0, -suffix.length))}); rename the table`
    }
  }
  return undefined
}

export interface InternalTable {
  /** `layer.name` as medallion names it. */
  readonly id: string
  /** What it holds, e.g. "quarantine". */
  readonly kind: string
}

/** The tables medallion keeps in the layer's schema beside `layer.name`. */
export const internalTables = (layer: Layer, name: string): ReadonlyArray<InternalTable> => [
  { id: `${layer}.${name}__next`, kind: "next version" },
  { id: `${layer}.${name}__quarantine`, kind: "quarantine" },
  { id: `${layer}.${name}__quarantine__next`, kind: "next quarantine" },
  ...(layer === "bronze"
    ? [
        { id: `bronze.${name}__rejects`, kind: "rejects" },
        { id: `bronze.${name}__rejects__next`, kind: "next rejects" }
      ]
    : [])
]
