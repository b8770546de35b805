/**
 * /health needs no credentials, so when the warehouse is damaged under a running server it says
 * which part failed and nothing more: no path, no file name, no engine message. The detail goes
 * to the server's log, as it does for the other routes.
 */
import { closeSync, openSync, statSync, truncateSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it, vi } from "vitest"
import type { TestProject } from "../support/project.ts"
import { buildWarehouse, type RunningServer, shopPlan, shopProject, startServer } from "./support.ts"

const apiKey = "read-key-0123456789"

describe("/health over a damaged warehouse", () => {
  let project: TestProject
  let server: RunningServer
  let warehouse: string

  beforeAll(async () => {
    project = shopProject()
    const plan = shopPlan()
    await buildWarehouse(project, plan)
    warehouse = join(project.dir, ".medallion", "warehouse.duckdb")
    server = await startServer(project, plan, { auth: { api_keys: [{ name: "dashboards", key: apiKey, scopes: ["read"] }] } })
  })
  afterAll(async () => {
    vi.restoreAllMocks()
    await server?.close()
    project?.remove()
  })

  /** What a body must not contain: anything about the host or the engine. */
  const assertReveals = (text: string, nothingOf: ReadonlyArray<string>) => {
    for (const word of nothingOf) assert.notInclude(text.toLowerCase(), word.toLowerCase(), `the answer names ${JSON.stringify(word)}: ${text}`)
  }
  const hostWords = () => [project.dir, ".medallion", "warehouse.duckdb", tmpdir(), "IO Error", "Corrupt", "checksum", "Could not read", "bytes from", "location", "DuckDB"]

  it("answers 503 naming the failed part only, and logs the engine's message", async () => {
    // Garbage over the whole file while the server has it open: the blocks it has not read yet
    // (no request has read the run history, which /health reads) fail their checksums when read.
    const size = statSync(warehouse).size
    const fd = openSync(warehouse, "r+")
    writeSync(fd, Buffer.alloc(size, 0x5a), 0, size, 0)
    closeSync(fd)
    const logged: Array<string> = []
    const capture = (...args: Array<unknown>) => {
      logged.push(args.map((a) => (typeof a === "string" ? a : (JSON.stringify(a, (_k, v) => (v instanceof Error ? String(v) : v)) ?? String(a)))).join(" "))
    }
    vi.spyOn(console, "log").mockImplementation(capture)
    vi.spyOn(console, "error").mockImplementation(capture)
    const corrupt = await server.get("/health")
    assert.strictEqual(corrupt.status, 503, corrupt.text)
    assert.strictEqual(corrupt.headers.get("content-type"), "application/problem+json")
    assert.strictEqual(corrupt.body.type, "urn:medallion:problem:unhealthy")
    assert.strictEqual(corrupt.body.checks.executor.status, "ok")
    assert.strictEqual(corrupt.body.checks.metadata.status, "failed")
    assert.include(corrupt.body.detail, "see the server log")
    assertReveals(corrupt.text, hostWords())
    assert.isTrue(
      logged.some((line) => /checksum|Corrupt/i.test(line) && line.includes("health check")),
      logged.join("\n")
    )

    // Cut short: DuckDB's message names the file with its absolute path.
    truncateSync(warehouse, 4096)
    logged.length = 0
    const truncated = await server.get("/health")
    assert.strictEqual(truncated.status, 503, truncated.text)
    assertReveals(truncated.text, hostWords())
    assert.isTrue(
      logged.some((line) => line.includes(warehouse)),
      logged.join("\n")
    )

    // The routes behind credentials already said as little.
    const runs = await server.get("/runs", { "x-api-key": apiKey })
    assert.strictEqual(runs.status, 500, runs.text)
    assert.include(runs.body.detail, "see the server log")
    assertReveals(runs.text, hostWords())
    vi.restoreAllMocks()
  })
})
