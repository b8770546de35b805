/**
 * Builds the CLI into dist/: one entry plus a few chunks, with effect and yaml inlined and
 * tree-shaken. Loading one bundled file instead of hundreds of modules halves the CLI's start-up
 * (BENCHMARKS.md); bin/medallion.js runs it when it is at least as new as src/. DuckDB (a native
 * addon) and the OpenTelemetry SDK packages (CommonJS, loaded only when telemetry is on) stay external;
 * @effect/opentelemetry is bundled so that it shares the bundle's copy of effect.
 */
import { defineConfig } from "rolldown"

export default defineConfig({
  input: { medallion: "src/main.ts" },
  platform: "node",
  external: ["@duckdb/node-api", /^@opentelemetry\//, /^node:/],
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
