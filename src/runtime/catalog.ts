/** What the warehouse's catalog says about a table or view, whatever the engine. */
import { Effect } from "effect"
import { Executor, ExpectedFailure, type Session } from "../executor/Executor.ts"

export interface Column {
  readonly name: string
  readonly type: string
}

/**
 * The columns of a table or view in a layer, in order; none when it does not exist. Where the
 * lookup fails for a missing one (DuckDB's DESCRIBE), that failure is an answer: its span is no error.
 */
export const columnsOf = (session: Session, layer: string, name: string) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const missing = dialect.isMissingRelation
    const rows = yield* session.query(dialect.columnsOf(layer, name)).pipe(
      Effect.provideService(ExpectedFailure, missing !== undefined),
      Effect.catchIf(
        (e) => missing !== undefined && e.reason._tag === "QueryFailed" && missing(e.reason.detail),
        () => Effect.succeed([])
      )
    )
    return rows.map((r): Column => ({ name: String(r["column_name"]), type: String(r["column_type"]) }))
  })
