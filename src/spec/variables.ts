/**
 * `${VAR}` and `${VAR:-default}` from the environment, in config files (every string) and in
 * pipeline files (the paths of sources and targets). Pure: the caller passes the environment.
 */
import { Result } from "effect"
import type { Pipeline, Table } from "./Pipeline.ts"
import type { ParsedPipeline, YamlPath } from "./parse.ts"
import type { Problem } from "./SpecError.ts"

export type Environment = Readonly<Record<string, string | undefined>>

const variable = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** `text` with its variables replaced; `missing` names the unset ones that have no default (an empty value counts as unset). */
export const expandVariables = (text: string, env: Environment): { readonly value: string; readonly missing: ReadonlyArray<string> } => {
  const missing: Array<string> = []
  const value = text.replace(variable, (_, name: string, fallback: string | undefined) => {
    const found = env[name]
    if (found !== undefined && found !== "") return found
    if (fallback !== undefined) return fallback
    missing.push(name)
    return ""
  })
  return { value, missing }
}

export const missingVariable = (name: string) => `environment variable ${name} is not set; set it or write \${${name}:-default}`

/**
 * A pipeline with the variables of its source and target paths replaced, or a located problem per
 * unset variable. Only paths: SQL text keeps `${...}` as written.
 */
export const expandPipelinePaths = (parsed: ParsedPipeline, env: Environment): Result.Result<ParsedPipeline, ReadonlyArray<Problem>> => {
  const problems: Array<Problem> = []
  const expand = (text: string, path: YamlPath) => {
    const { value, missing } = expandVariables(text, env)
    for (const name of missing) problems.push(parsed.problemAt(path, missingVariable(name), "value"))
    return value
  }
  const spec = parsed.spec
  const sources =
    spec.sources === undefined ? undefined : Object.fromEntries(Object.entries(spec.sources).map(([name, s]) => [name, { ...s, path: expand(s.path, ["sources", name, "path"]) }]))
  const withTargets = (layer: "silver" | "gold", name: string, table: Table): Table =>
    table.targets === undefined
      ? table
      : {
          ...table,
          targets: table.targets.map((t, i) =>
            "parquet" in t ? { ...t, parquet: expand(t.parquet, [layer, name, "targets", i, "parquet"]) } : { ...t, csv: expand(t.csv, [layer, name, "targets", i, "csv"]) }
          )
        }
  const tables = (layer: "silver" | "gold") => {
    const declared = spec[layer]
    return declared === undefined ? undefined : Object.fromEntries(Object.entries(declared).map(([name, t]) => [name, withTargets(layer, name, t)]))
  }
  const expanded: Pipeline = {
    ...spec,
    ...(sources === undefined ? {} : { sources }),
    ...(spec.silver === undefined ? {} : { silver: tables("silver")! }),
    ...(spec.gold === undefined ? {} : { gold: tables("gold")! })
  }
  return problems.length > 0 ? Result.fail(problems) : Result.succeed({ ...parsed, spec: expanded })
}
