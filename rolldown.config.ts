/**
 * Builds the CLI into dist/: one entry plus a few chunks, with effect and yaml inlined and
 * tree-shaken. Loading one bundled file instead of hundreds of modules halves the CLI's start-up
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
  const files = readdirSync("src", { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).toSorted()
  for (const file of ["package-lock.json", ...files]) hash.update(file).update(readFileSync(file))
  return hash.digest("hex").slice(0, 16)
})()

export default defineConfig({
  input: { medallion: "src/main.ts" },
  platform: "node",
  external: ["@duckdb/node-bindings", /^@opentelemetry\//, /^node:/],
  transform: { define: { "globalThis.__MEDALLION_BUILD__": JSON.stringify(build) } },
  output: {
    dir: "dist",
    format: "esm",
    entryFileNames: "[name].js",
    chunkFileNames: "chunks/[name]-[hash].js",
    minify: true,
    sourcemap: true,
    cleanDir: true
  }
})
