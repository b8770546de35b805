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
    ...(isDeno ? { pool: "threads" as const, setupFiles: ["test/support/deno-worker.ts"] } : {})
  }
})
