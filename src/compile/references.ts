/** `{{ layer.table }}` and `{{ input }}` in user SQL, replaced by qualified names. Pure. */
import type { Dialect } from "./Dialect.ts"

const reference = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}/g

export const resolveReferences = (d: Dialect, sql: string, names: Readonly<Record<string, string>>): string =>
  sql.replace(reference, (whole, first: string, second: string | undefined) => (second === undefined ? (names[first] ?? whole) : d.table(first as "silver", second)))
