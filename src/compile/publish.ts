/**
 * How a built result becomes the published table, per mode. Pure. `replace` builds next to the
 * target and swaps in one transaction, so readers see the old table or the new one, never half;
 * `append` inserts inside the caller's transaction.
 */
import type { Layer } from "../spec/Pipeline.ts"
import type { Dialect } from "./Dialect.ts"

export interface Publication {
  /** Target table and the query whose rows it receives. */
  readonly layer: Layer
  readonly name: string
  readonly query: string
}

export interface ReplaceStatements {
  readonly build: ReadonlyArray<string>
  /** Run in one transaction; `existingViews` are names currently holding a view instead of a table. */
  readonly swap: (existingViews: ReadonlySet<string>) => ReadonlyArray<string>
  readonly cleanup: ReadonlyArray<string>
}

/** Where a replace builds the new table before swapping it in. */
export const nextName = (name: string) => `${name}__next`

export const replaceStatements = (d: Dialect, publications: ReadonlyArray<Publication>): ReplaceStatements => ({
  build: publications.map((p) => d.createTable(d.table(p.layer, nextName(p.name)), p.query)),
  swap: (existingViews) =>
    publications.flatMap((p) => [
      existingViews.has(p.name) ? d.dropView(d.table(p.layer, p.name)) : d.dropTable(d.table(p.layer, p.name)),
      d.renameTable(d.table(p.layer, nextName(p.name)), p.name)
    ]),
  cleanup: publications.map((p) => d.dropTable(d.table(p.layer, nextName(p.name))))
})

/** Appending to a table: `create` makes it (empty, with the query's columns) when it does not exist yet. */
export const appendStatements = (d: Dialect, p: Publication) => ({
  create: d.createTableIfMissing(d.table(p.layer, p.name), p.query),
  insert: d.insertByName(d.table(p.layer, p.name), p.query)
})
