/** Why a table failed, for people: each names the table and says what to do. */
import { Schema } from "effect"
import { statementMarker } from "../executor/Executor.ts"

export class SourceError extends Schema.TaggedError<SourceError>()("SourceError", {
  table: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.table}: ${this.reason} (${this.path})`
  }
}

export class ExpectationFailed extends Schema.TaggedError<ExpectationFailed>()("ExpectationFailed", {
  table: Schema.String,
  expectation: Schema.String,
  failed: Schema.Number
}) {
  override get message(): string {
    return `${this.table}: expectation ${this.expectation} failed for ${this.failed} row(s) and is set to on_fail: fail; nothing was written. Fix the data, or set on_fail to quarantine to keep going.`
  }
}

export class CastFailed extends Schema.TaggedError<CastFailed>()("CastFailed", {
  table: Schema.String,
  column: Schema.String,
  failed: Schema.Number,
  samples: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.table}: cannot cast column ${this.column} for ${this.failed} row(s), e.g. ${this.samples.map((s) => JSON.stringify(s)).join(", ")}; nothing was written. Fix the data or use cast: { columns: ..., on_error: quarantine | null }.`
  }
}

export class InputError extends Schema.TaggedError<InputError>()("InputError", {
  table: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.table}: ${this.reason}`
  }
}

/**
 * The engine rejected what a person wrote in one part of a table (a transform, an expectation, the
 * input query): named by where it is written, with the engine's reason, without the generated SQL
 * (kept in `statement` for --verbose and the trace).
 */
export class StepError extends Schema.TaggedError<StepError>()("StepError", {
  table: Schema.String,
  /** file:line:col of the part. */
  location: Schema.String,
  /** The part, e.g. `transforms[2].filter`, and what it says, as written. */
  part: Schema.String,
  written: Schema.String,
  reason: Schema.String,
  statement: Schema.String
}) {
  override get message(): string {
    return `${this.location}: ${this.table} ${this.part}: ${this.reason}\n  ${this.part}: ${this.written}${statementMarker}${this.statement}`
  }
}

export type TableError = SourceError | ExpectationFailed | CastFailed | InputError | StepError

/** A run finished with failed or skipped tables; the report has already been shown. */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  batchId: Schema.String,
  failed: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `run ${this.batchId} failed: ${this.failed.join(", ")}`
  }
}
