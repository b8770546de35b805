/** What the warehouse's catalog says about a table or view, whatever the engine. */
import { Effect } from "effect"
import { Executor, type Session } from "../executor/Executor.ts"

export interface Column {
  readonly name: string
  readonly type: string
}

/** The columns of a table or view in a layer, in order; none when it does not exist. */
export const columnsOf = (session: Session, layer: string, name: string) =>
  Effect.gen(function*() {
    const { dialect } = yield* Executor
    if (dialect.relationExists !== undefined && (yield* session.query(dialect.relationExists(layer, name))).length === 0) return []
    return (yield* session.query(dialect.columnsOf(layer, name))).map((r): Column => ({ name: String(r["column_name"]), type: String(r["column_type"]) }))
  })
