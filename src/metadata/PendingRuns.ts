/**
 * Runs waiting beside a DuckDB warehouse in `<database>.pending-runs.jsonl` (one run record a line)
 * until the run history is next written: runs that found every table unchanged, and runs whose
 * record the warehouse could not take (a full disk), with their tables.
 *
 * Why: one row written into the warehouse costs an insert and DuckDB's checkpoint of the file when
 * it closes, about 25 ms, a quarter of what a no-op apply does once loaded; and an hourly schedule
 * that finds nothing would change the warehouse file every hour. SqlMetadataStore appends such runs here,
 * moves them into `_medallion.runs` in the transaction of the next run row it writes, and, when
 * opened by anything other than an apply, before anything reads the history.
 */
import { Effect, FileSystem, type PlatformError, Schema } from "effect"
import { RunRecord, TableRecord } from "./MetadataStore.ts"

/** A run waiting, with the tables it has not recorded yet (none for a run that found nothing to do). */
export const PendingRun = Schema.Struct({ ...RunRecord.fields, tables: Schema.optional(Schema.Array(TableRecord)) })
export type PendingRun = typeof PendingRun.Type

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
  /** `<database>.pending-runs.jsonl`. */
  readonly file: string
  /** The runs waiting, oldest first. A line that does not decode (a write cut short) is skipped with a warning: it is only history. */
  readonly read: Effect.Effect<ReadonlyArray<PendingRun>, PendingRunsError>
  readonly append: (run: PendingRun) => Effect.Effect<void, PendingRunsError>
  /** Forgets them, once they are in the warehouse. */
  readonly clear: Effect.Effect<void, PendingRunsError>
}

const decodeLine = Schema.decodeUnknownOption(Schema.fromJsonString(PendingRun))

/** The pending runs of the DuckDB warehouse at `database`. */
export const make = Effect.fnUntraced(function* (database: string) {
  const fs = yield* FileSystem.FileSystem
  const file = `${database}.pending-runs.jsonl`
  // The system's own words (ENOSPC: no space left on device, ...) say more than the platform's.
  const failed = (what: string, then: string) => (error: PlatformError.PlatformError) => {
    const cause = error.reason.cause
    return new PendingRunsError({ file, reason: `cannot ${what} (${cause instanceof Error ? cause.message : error.message}); ${then}` })
  }
  const read = Effect.gen(function* () {
    const text = yield* fs.readFileString(file).pipe(
      Effect.catchIf(
        (e) => e.reason._tag === "NotFound",
        () => Effect.succeed("")
      ),
      Effect.mapError(failed("read the runs waiting here", "they stay until it can be read: fix its permissions, or remove it to drop them"))
    )
    const runs: Array<PendingRun> = []
    for (const [index, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue
      const run = decodeLine(line)
      if (run._tag === "Some") runs.push(run.value)
      else yield* Effect.logWarning(`${file}:${index + 1}: not a run record, skipped (a write cut short?)`)
    }
    return runs
  })
  return {
    file,
    read,
    // One write of one line, appended: a run killed while writing leaves at most a line that does not decode.
    append: (run) =>
      fs
        .writeFileString(file, `${JSON.stringify(run)}\n`, { flag: "a" })
        .pipe(
          Effect.mapError(
            failed(
              `keep run ${run.batch_id} here`,
              run.tables === undefined ? "it is written into the warehouse instead; fix the file's permissions" : "fix the file's permissions, or free space"
            )
          )
        ),
    clear: fs.remove(file, { force: true }).pipe(Effect.mapError(failed("remove it once its runs are in the warehouse", "they are not recorded twice, but fix its permissions")))
  } satisfies PendingRuns
})
