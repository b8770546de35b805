/**
 * `medallion init`: an empty directory becomes a project that validates and applies as it is, with
 * the gold its sample data should give; running it again keeps every file it finds.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { cli } from "../support/project.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe("medallion init", () => {
  it("creates a project that validates and applies, and the editor schema its pipeline points at", { timeout: 120_000 }, () => {
    const parent = mkdtempSync(join(tmpdir(), "medallion-init-"))
    dirs.push(parent)
    const created = cli(parent, ["init", "shop"])
    assert.strictEqual(created.code, 0, created.stderr)
    const project = join(parent, "shop")
    const pipeline = readFileSync(join(project, "pipelines", "orders.yaml"), "utf8")
    assert.match(pipeline, /^# yaml-language-server: \$schema=\.\.\/medallion\.schema\.json\n/)
    assert.strictEqual(JSON.parse(readFileSync(join(project, "medallion.schema.json"), "utf8")).type, "object")
    assert.include(readFileSync(join(project, ".gitignore"), "utf8"), ".medallion/")

    assert.strictEqual(cli(project, ["validate"]).code, 0)
    const applied = cli(project, ["apply", "--json"])
    assert.strictEqual(applied.code, 0, applied.stderr)
    const gold = cli(project, ["show", "gold.daily_revenue", "--json"])
    assert.strictEqual(gold.code, 0, gold.stderr)
    // Order 2 was refunded by a later update (merge by updated_at), order 4 is a test order
    // (filtered), order 5 has a negative amount (quarantined).
    assert.deepStrictEqual(
      (JSON.parse(gold.stdout) as Array<Record<string, unknown>>).map((r) => [String(r["day"]), Number(r["orders"]), String(r["revenue"])]),
      [
        ["2026-01-05", 2, "25"],
        ["2026-01-06", 1, "40"]
      ]
    )
  })

  it("keeps the files it finds and says so", { timeout: 60_000 }, () => {
    const project = mkdtempSync(join(tmpdir(), "medallion-init-"))
    dirs.push(project)
    assert.strictEqual(cli(project, ["init"]).code, 0)
    writeFileSync(join(project, "config", "default.yaml"), "engine: duckdb\n")
    const again = cli(project, ["init"])
    assert.strictEqual(again.code, 0, again.stderr)
    assert.match(again.stdout, /kept +config\/default\.yaml \(exists\)/)
    assert.strictEqual(readFileSync(join(project, "config", "default.yaml"), "utf8"), "engine: duckdb\n")
  })
})
