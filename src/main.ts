/**
 * The entry point: composes the platform layer and runs the CLI. The same file runs on Node.js 24
 * (type stripping) and on Deno.
 */
// Subpath imports: the package index loads HTTP and worker modules the CLI does not need (~0.4 s).
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Exit } from "effect"
import { runCli } from "./cli/main.ts"

const args = globalThis.process.argv.slice(2)

runCli(args).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(typeof exit.value === "number" ? exit.value : 0)
      onExit(Exit.hasInterrupts(exit) ? 130 : 1)
    }
  })
)
