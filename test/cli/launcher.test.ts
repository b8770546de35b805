/**
 * bin/medallion.js started by a Node.js too old for the CLI (< 22.19) must still load, then run the
 * CLI on the Node 24 the project installs. Uses an older `node` found on PATH; skipped without one.
 */
import { describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { delimiter, join } from "node:path"
import { assert } from "vitest"
import { repoRoot } from "../support/project.ts"

const olderNode = (): string | undefined => {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const candidate = join(dir, "node")
    if (dir === "" || !existsSync(candidate)) continue
    const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout.trim()
    const [major, minor] = version.replace(/^v/, "").split(".").map(Number)
    if (major !== undefined && minor !== undefined && (major < 22 || (major === 22 && minor < 19))) return candidate
  }
  return undefined
}

const old = "Deno" in globalThis ? undefined : olderNode()

describe.skipIf(old === undefined)("bin/medallion.js on an older Node.js", () => {
  it("loads, and runs the CLI on the project's own Node", () => {
    const result = spawnSync(old!, [join(repoRoot, "bin", "medallion.js"), "--version"], { encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^medallion v\d+\.\d+\.\d+/)
  })
})
