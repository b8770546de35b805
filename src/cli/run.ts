/**
 * Runs the CLI with the platform services and maps the outcome to the process exit code.
 * The same file runs on Node.js 24 (type stripping) and on Deno.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Exit } from "effect"
import * as Telemetry from "../telemetry/Telemetry.ts"
import { runCli, version } from "./main.ts"

runCli(globalThis.process.argv.slice(2)).pipe(
  // Tracing (off unless OTEL_* asks for it): its scope closes here, so spans are flushed on every exit.
  Effect.provide(Telemetry.layer({ serviceVersion: version })),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(typeof exit.value === "number" ? exit.value : 0)
      onExit(Exit.hasInterrupts(exit) ? 130 : 1)
    }
  })
)
