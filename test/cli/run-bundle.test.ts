/**
 * bin/run-bundle.js, which loads the CLI bundle with a V8 code cache, on a small bundle of its own
 * in a temporary directory: an entry, a chunk it requires, and Node's modules through Node.
 * Node only: Deno runs the sources.
 */
import { describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterEach, assert } from "vitest"
import { repoRoot } from "../support/project.ts"

const loader = pathToFileURL(join(repoRoot, "bin", "run-bundle.js")).href

const makeBundle = () => {
  const dir = mkdtempSync(join(tmpdir(), "medallion-bundle-"))
  mkdirSync(join(dir, "chunks"))
  writeFileSync(join(dir, "chunks", "part.cjs"), "exports.add = (a, b) => a + b\n")
  writeFileSync(
    join(dir, "entry.cjs"),
    `const { add } = require("./chunks/part.cjs")
const path = require("node:path")
console.log(JSON.stringify({ sum: add(2, 3), file: path.basename(__filename), args: process.argv.slice(2) }))
`
  )
  return dir
}

/** Runs the bundle as bin/medallion.js does, with `args` as the command line. */
const run = (dir: string, args: ReadonlyArray<string>) => {
  const result = spawnSync(
    process.execPath,
    ["--input-type=module", "-e", `import { runBundle } from ${JSON.stringify(loader)}; runBundle(process.argv[1])`, join(dir, "entry.cjs"), ...args],
    { encoding: "utf8", timeout: 30_000 }
  )
  assert.strictEqual(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as unknown
}

/** The cache files of a subcommand, name -> content. */
const cacheOf = (dir: string, command: string) =>
  new Map(readdirSync(join(dir, ".code-cache", command)).map((name) => [name, readFileSync(join(dir, ".code-cache", command, name))]))

describe.skipIf("Deno" in globalThis)("run-bundle", () => {
  const dirs: Array<string> = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  it("runs the bundle and keeps a cache per subcommand, which the next run uses as it is", () => {
    const dir = makeBundle()
    dirs.push(dir)
    assert.deepStrictEqual(run(dir, ["apply", "--json"]), { sum: 5, file: "entry.cjs", args: ["apply", "--json"] })
    const first = cacheOf(dir, "apply")
    assert.deepStrictEqual([...first.keys()].map((name) => name.split("-")[0]).sort(), ["entry.cjs", "part.cjs"])
    for (const data of first.values()) assert.isAbove(data.length, 0)

    // Accepted, so not written again.
    const written = statSync(join(dir, ".code-cache", "apply")).mtimeMs
    assert.deepStrictEqual(run(dir, ["apply"]), { sum: 5, file: "entry.cjs", args: ["apply"] })
    assert.deepStrictEqual(cacheOf(dir, "apply"), first)
    assert.strictEqual(statSync(join(dir, ".code-cache", "apply")).mtimeMs, written)

    run(dir, ["plan"])
    assert.strictEqual(cacheOf(dir, "plan").size, 2)
  })

  it("replaces a cache V8 refuses, and a rebuilt file gets a cache of its own", () => {
    const dir = makeBundle()
    dirs.push(dir)
    run(dir, ["apply"])
    const [entryCache] = [...cacheOf(dir, "apply").keys()].filter((name) => name.startsWith("entry.cjs"))
    writeFileSync(join(dir, ".code-cache", "apply", entryCache!), "not a code cache")
    assert.deepStrictEqual(run(dir, ["apply"]), { sum: 5, file: "entry.cjs", args: ["apply"] })
    assert.notStrictEqual(cacheOf(dir, "apply").get(entryCache!)!.toString("utf8"), "not a code cache")

    // Same length, new content: the cache of the old file must not be used for it.
    const entry = join(dir, "entry.cjs")
    writeFileSync(entry, readFileSync(entry, "utf8").replace("add(2, 3)", "add(4, 3)"))
    utimesSync(entry, new Date(), new Date(Date.now() + 5_000))
    assert.deepStrictEqual(run(dir, ["apply"]), { sum: 7, file: "entry.cjs", args: ["apply"] })
    assert.strictEqual([...cacheOf(dir, "apply").keys()].filter((name) => name.startsWith("entry.cjs")).length, 2)
  })

  it("runs without a cache where it cannot write one", () => {
    const dir = makeBundle()
    dirs.push(dir)
    writeFileSync(join(dir, ".code-cache"), "a file where the cache directory would go")
    assert.deepStrictEqual(run(dir, ["apply"]), { sum: 5, file: "entry.cjs", args: ["apply"] })
    assert.deepStrictEqual(run(dir, ["apply"]), { sum: 5, file: "entry.cjs", args: ["apply"] })
  })
})
