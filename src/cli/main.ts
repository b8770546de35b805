/**
 * The command tree and how failures become exit codes: 0 ok, 1 pipeline or data failure,
 * 2 usage or spec error, 130 interrupted. User errors print a message, never a stack trace;
 * an unexpected failure (a defect, an error no command renders) prints its cause and asks for a
 * report. No failure is silent. Everything the commands print (messages, errors, `--json`) goes
 * through a console that replaces secrets with [redacted] (secrets/Secrets.ts).
 */
import { Cause, Console, Effect } from "effect"
import { CliError, Command } from "effect/cli"
import * as Secrets from "../secrets/Secrets.ts"
import { apply } from "./commands/apply.ts"
import { compile } from "./commands/compile.ts"
import { init } from "./commands/init.ts"
import { plan } from "./commands/plan.ts"
import { runs } from "./commands/runs.ts"
import { schema } from "./commands/schema.ts"
import { serve } from "./commands/serve.ts"
import { show } from "./commands/show.ts"
import { validate } from "./commands/validate.ts"
import { AlreadyReported } from "./context.ts"
import { LogFormat } from "./observability.ts"
import { version } from "./version.ts"

const root = Command.make("medallion").pipe(
  Command.withDescription("Declarative medallion pipelines (bronze -> silver -> gold) on DuckDB"),
  Command.withSubcommands([init, validate, plan, compile, apply, runs, show, schema, serve]),
  Command.withGlobalFlags([LogFormat])
)

const usageTags = new Set(["SpecError", "SelectionError", "UsageError"])

/**
 * A failure nothing renders: a defect (a bug) or an error without a message. Prints what and where
 * (Effect's pretty cause, with the stack) and asks for a report; exit code 1 (130 if it came
 * with an interruption).
 */
const reportUnexpected = (cause: Cause.Cause<unknown>): Effect.Effect<number> => {
  const first = Cause.squash(cause)
  const message = first instanceof Error ? first.message || first.name : String(first)
  return Console.error(
    [`error: unexpected failure: ${message}`, Cause.pretty(cause), "This is a bug in medallion: please report it with the command you ran and the output above."].join("\n")
  ).pipe(Effect.as(Cause.hasInterrupts(cause) ? 130 : 1))
}

/** The exit code for a failure, after telling the user what went wrong. */
const reportFailure = (error: unknown): Effect.Effect<number> => {
  if (CliError.isCliError(error)) return Effect.succeed(2) // already printed with help
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
  if (tag === "RunFailed") return Effect.succeed(1) // the report said which tables failed
  if (error instanceof AlreadyReported) return Effect.succeed(error.exitCode)
  if (!(error instanceof Error) || error.message === "") return reportUnexpected(Cause.fail(error))
  const message = error.message
  const prefix = tag === "SpecError" ? "" : "error: "
  return Console.error(`${prefix}${message}`).pipe(Effect.as(usageTags.has(tag) ? 2 : 1))
}

export const runCli = (args: ReadonlyArray<string>) =>
  Command.runWith(root, { version })(args).pipe(
    Effect.as(0),
    Effect.catch(reportFailure),
    // An interruption alone stays one (exit code 130); anything else left is unexpected.
    Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : reportUnexpected(cause))),
    Effect.provideService(Console.Console, Secrets.scrubbingConsole(globalThis.console))
  )
