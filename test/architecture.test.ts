/** Imports flow one way (spec <- plan <- compile <- runtime <- edges) and pure stages do no I/O. */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { repoRoot } from "./support/project.ts"

const src = join(repoRoot, "src")
const files = (readdirSync(src, { recursive: true }) as Array<string>).filter((f) => f.endsWith(".ts")).map((f) => join(src, f))
const folder = (file: string) => relative(src, file).split(/[\\/]/)[0]!
const imports = (file: string) => Array.from(readFileSync(file, "utf8").matchAll(/^import[^"]*"([^"]+)"/gm), (m) => m[1]!)
const localFolders = (file: string) =>
  imports(file)
    .filter((i) => i.startsWith("."))
    .map((i) => folder(join(file, "..", i)))

/**
 * Which project folders each folder may import from. `secrets` (the registry of secret values and
 * the scrubber every output passes) is a leaf that the stages holding or writing secrets use.
 */
const allowed: Record<string, ReadonlyArray<string>> = {
  spec: ["spec"],
  plan: ["plan", "spec"],
  compile: ["compile", "plan", "spec"],
  secrets: ["secrets"],
  executor: ["executor", "compile", "secrets"],
  metadata: ["metadata", "executor", "plan"],
  runtime: ["runtime", "compile", "plan", "spec", "executor", "metadata", "secrets"],
  settings: ["settings", "spec", "secrets"],
  telemetry: ["telemetry", "secrets"],
  api: ["api", "runtime", "compile", "plan", "spec", "executor", "metadata", "settings", "secrets"],
  cli: ["cli", "api", "runtime", "compile", "plan", "spec", "executor", "metadata", "settings", "telemetry", "secrets"]
}

describe("architecture", () => {
  it("keeps imports flowing one way", () => {
    const violations = files.flatMap((file) => {
      const own = folder(file)
      if (own.endsWith(".ts")) return [] // main.ts composes everything
      return localFolders(file)
        .filter((f) => !(allowed[own] ?? []).includes(f))
        .map((f) => `${relative(src, file)} imports ${f}/`)
    })
    assert.deepStrictEqual(violations, [])
  })

  it("keeps spec, plan and compile pure: no platform, executor or node imports", () => {
    const impure = files
      .filter((file) => ["spec", "plan", "compile"].includes(folder(file)) && !file.endsWith("load.ts"))
      .flatMap((file) =>
        imports(file)
          .filter((i) => i.startsWith("node:") || i.startsWith("@duckdb") || i.startsWith("@effect/platform"))
          .map((i) => `${relative(src, file)}: ${i}`)
      )
    assert.deepStrictEqual(impure, [])
  })

  it("uses the platform FileSystem, never node:fs, so the same sources run on Deno", () => {
    const direct = files.filter((file) => imports(file).some((i) => i === "node:fs" || i === "node:fs/promises" || i === "fs"))
    assert.deepStrictEqual(
      direct.map((f) => relative(src, f)),
      []
    )
  })
})
