/**
 * No failure is silent: a failure that no command renders (a defect) still prints what happened,
 * where, and a request to report it, and exits non-zero. The defect is real: a module preloaded
 * into the child process breaks `Array.prototype.toSorted`, which the CLI calls while finding the
 * pipeline files.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { cliArgs, makeProject } from "../support/project.ts"

const pipeline = `version: 1
pipeline: shop
gold:
  one:
    sql: select 1 as n
`

const preload = `Array.prototype.toSorted = function () { throw new Error("toSorted is broken in this process") }\n`

describe("an unexpected failure", () => {
  const project = makeProject({ "pipelines/shop.yaml": pipeline, "break.mjs": preload })
  afterAll(() => project.remove())

  /** The CLI with break.mjs loaded first: `--import` on Node, `--preload` on Deno. */
  const run = (args: ReadonlyArray<string>) => {
    const module = join(project.dir, "break.mjs")
    const base = cliArgs(args)
    const withPreload = "Deno" in globalThis ? [base[0]!, `--preload=${module}`, ...base.slice(1)] : ["--import", `file://${module}`, ...base]
    const result = spawnSync(process.execPath, withPreload, { cwd: project.dir, env: { ...process.env, NO_COLOR: "1" }, encoding: "utf8", timeout: 120_000 })
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
  }

  it("prints the failure, where it came from and a request to report it, and exits 1", () => {
    const result = run(["validate"])
    assert.strictEqual(result.code, 1, result.stdout + result.stderr)
    const lines = result.stderr.trim().split("\n")
    assert.strictEqual(lines[0], "error: unexpected failure: toSorted is broken in this process")
    assert.match(result.stderr, /break\.mjs/, "the stack names where the failure was thrown")
    assert.match(lines.at(-1)!, /please report it/)
  })

  it("leaves the same command working without the defect", () => {
    const result = spawnSync(process.execPath, cliArgs(["validate"]), { cwd: project.dir, encoding: "utf8", timeout: 120_000 })
    assert.strictEqual(result.status, 0, result.stderr)
  })
})
