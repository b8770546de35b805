/**
 * Builds the CLI into dist/: one entry plus a few chunks, with effect and yaml inlined and
 * tree-shaken, as CommonJS, which bin/run-bundle.js loads with a V8 code cache taken after the run
 * (an ES module cannot be loaded that way). Loading one bundled file instead of hundreds of modules halves the CLI's start-up
 * (BENCHMARKS.md); bin/medallion.js runs it when it is at least as new as src/. DuckDB's native
 * binding and the OpenTelemetry SDK packages (CommonJS, loaded only when telemetry is on) stay
 * external. @duckdb/node-api is bundled (a hundred small CommonJS files, ~50 ms to resolve and load
 * one by one), and so is @effect/opentelemetry, so that it shares the bundle's copy of effect.
 */
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { defineConfig } from "rolldown"

/** Identifies this build by its sources: the spec cache (src/spec/cache.ts) trusts only entries of the same build. */
const build = (() => {
  const hash = createHash("sha256")
  const files = readdirSync("src", { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .toSorted()
  for (const file of ["package-lock.json", ...files]) hash.update(file).update(readFileSync(file))
  return hash.digest("hex").slice(0, 16)
})()

export default defineConfig({
  // src/main.ts is the entry when running the sources; the bundle starts at the CLI itself.
  input: { medallion: "src/cli/run.ts" },
  platform: "node",
  external: ["@duckdb/node-bindings", /^@opentelemetry\//, /^node:/],
  transform: { define: { "globalThis.__MEDALLION_BUILD__": JSON.stringify(build) } },
  output: {
    dir: "dist",
    format: "cjs",
    entryFileNames: "[name].cjs",
    chunkFileNames: "chunks/[name]-[hash].cjs",
    // External packages loaded on demand (the OTLP metric exporters) as require(), not import():
    // bin/run-bundle.js runs the bundle as a vm.Script, where import() needs Node's experimental
    // vm.USE_MAIN_CONTEXT_DEFAULT_LOADER (and prints an ExperimentalWarning whenever it is used).
    dynamicImportInCjs: false,
    minify: true,
    sourcemap: true,
    cleanDir: true
  }
})
