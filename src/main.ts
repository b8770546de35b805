/**
 * The entry point. Turns on Node's compile cache before loading anything else (it roughly halves
 * start-up once warm; Deno has its own cache), then starts the CLI.
 */
import * as nodeModule from "node:module"

try {
  if (typeof nodeModule.enableCompileCache === "function") nodeModule.enableCompileCache()
} catch {
  // A read-only or missing cache directory only costs speed.
}
await import("./cli/run.ts")
