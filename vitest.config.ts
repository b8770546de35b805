import { defineConfig } from "vitest/config"

const isDeno = "Deno" in globalThis

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // DuckDB work is CPU-bound and the CLI tests start processes: two workers fit two cores.
    maxWorkers: 2,
    // Deno cannot fork vitest's child-process workers; its worker threads work (see the setup file).
    ...(isDeno ? { pool: "threads" as const, setupFiles: ["test/support/deno-worker.ts"] } : {}),
    // `npm test` and `npm run coverage` (the suite without the property file): V8 coverage of src/ as the test
    // processes run it. The CLI the tests start as child processes is not counted.
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text-summary", "html", "lcov"],
      reportsDirectory: "coverage",
      // What the suite reaches, rounded down: a change that lowers it fails.
      thresholds: { lines: 83, statements: 81, functions: 81, branches: 75 }
    }
  }
})
