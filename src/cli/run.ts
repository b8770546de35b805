/**
 * Runs the CLI with the platform services and maps the outcome to the process exit code.
 * The same file runs on Node.js 24 (type stripping) and on Deno.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Exit } from "effect"
import { runCli } from "./main.ts"

runCli(globalThis.process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    // runCli prints every failure itself (an unexpected one with its cause); only interruptions reach here.
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      const code = Exit.isSuccess(exit) ? (typeof exit.value === "number" ? exit.value : 0) : Exit.hasInterrupts(exit) ? 130 : 1
      onExit(code)
      // The work is done and telemetry flushed (or given up on); background retries of an exporter
      // that could not reach its collector must not keep the process alive. The timer does not
      // itself hold the process open.
      globalThis.setTimeout(() => globalThis.process.exit(code), 100).unref()
    }
  })
)
