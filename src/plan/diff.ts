/**
 * What changed in a table's definition since it was last built, path by path, as `plan --diff`
 * prints it: `~ transforms[2].filter: "amount > 0" -> "amount >= 0"`, `+ expect[1]: {...}`,
 * `- targets[0]: {...}`. Lists are compared position by position. Pure.
 */

type Json = unknown

const isObject = (v: Json): v is Record<string, Json> => v !== null && typeof v === "object" && !Array.isArray(v)
const show = (v: Json) => JSON.stringify(v)

// The wrappers definitionOf groups some keys under, which a person never wrote.
const wrappers = new Set(["input", "mode"])

const join = (path: string, key: string | number) => (typeof key === "number" ? `${path}[${key}]` : path === "" || wrappers.has(path) ? key : `${path}.${key}`)

const walk = (path: string, before: Json, after: Json, out: Array<string>) => {
  if (show(before) === show(after)) return
  if (before === undefined) return void out.push(`+ ${path}: ${show(after)}`)
  if (after === undefined) return void out.push(`- ${path}: ${show(before)}`)
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) walk(join(path, i), before[i], after[i], out)
    return
  }
  if (isObject(before) && isObject(after)) {
    for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])]) walk(join(path, key), before[key], after[key], out)
    return
  }
  out.push(`~ ${path}: ${show(before)} -> ${show(after)}`)
}

export const diffDefinitions = (before: Readonly<Record<string, Json>>, after: Readonly<Record<string, Json>>): ReadonlyArray<string> => {
  const out: Array<string> = []
  walk("", before, after, out)
  return out
}
