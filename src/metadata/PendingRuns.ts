/**
 * Runs that found every table unchanged, kept beside a DuckDB warehouse in
 * `<database>.pending-runs.jsonl` (one run record a line) until the run history is next written.
 *
 * Why: one row written into the warehouse costs an insert and DuckDB's checkpoint of the file when
 * it closes, about 25 ms, a quarter of what a no-op apply does once loaded; and an hourly schedule
 * that finds nothing would change the warehouse file every hour. SqlMetadataStore appends such runs here,
 * moves them into `_medallion.runs` in the transaction of the next run row it writes, and, when
 * opened by anything other than an apply, before anything reads the history.
 */
import { Effect, FileSystem, Schema } from "effect"
import { RunRecord } from "./MetadataStore.ts"

/** The pending-runs file could not be read, written or removed; `reason` says what that means and what to do. */
export class PendingRunsError extends Schema.TaggedError<PendingRunsError>()("PendingRunsError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

export interface PendingRuns {
  /** The runs waiting, oldest first. A line that does not decode (a write cut short) is skipped with a warning: it is only history. */
  readonly read: Effect.Effect<ReadonlyArray<RunRecord>, PendingRunsError>
  readonly append: (run: RunRecord) => Effect.Effect<void, PendingRunsError>
  /** Forgets them, once they are in the warehouse. */
  readonly clear: Effect.Effect<void, PendingRunsError>
}

const decodeLine = Schema.decodeUnknownOption(Schema.fromJsonString(RunRecord))

/** The pending runs of the DuckDB warehouse at `database`. */
export const make = Effect.fnUntraced(function*(database: string) {
  const fs = yield* FileSystem.FileSystem
  const file = `${database}.pending-runs.jsonl`
  const failed = (what: string, then: string) => (cause: { readonly message: string }) =>
    new PendingRunsError({ file, reason: `cannot ${what} (${cause.message}); ${then}` })
  const read = Effect.gen(function*() {
    const text = yield* fs.readFileString(file).pipe(
      Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed("")),
      Effect.mapError(failed("read the runs waiting here", "they stay until it can be read: fix its permissions, or remove it to drop them"))
    )
    const runs: Array<RunRecord> = []
    for (const [index, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue
      const run = decodeLine(line)
      if (run._tag === "Some") runs.push(run.value)
      else yield* Effect.logWarning(`${file}:${index + 1}: not a run record, skipped (a write cut short?)`)
    }
    return runs
  })
  return {
    read,
    // One write of one line, appended: a run killed while writing leaves at most a line that does not decode.
    append: (run) =>
      fs.writeFileString(file, `${JSON.stringify(run)}\n`, { flag: "a" }).pipe(
        Effect.mapError(failed(`keep run ${run.batch_id} here`, "it is written into the warehouse instead; fix the file's permissions"))
      ),
    clear: fs.remove(file, { force: true }).pipe(
      Effect.mapError(failed("remove it once its runs are in the warehouse", "they are not recorded twice, but fix its permissions"))
    )
  } satisfies PendingRuns
})
