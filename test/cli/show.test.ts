/** `medallion show`: a long value is cut with a marker and a note, `--wide` shows it whole. */
import { assert, describe, it } from "@effect/vitest"
import { cli, makeProject } from "../support/project.ts"

const digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

describe("medallion show", () => {
  it("cuts a value over 40 characters with … and says so; --wide shows it whole", () => {
    const project = makeProject({
      "pipelines/p.yaml": "version: 1\npipeline: p\nsources: { s: { format: csv, path: data/s.csv } }\nbronze: { s: { from: s } }\n",
      "data/s.csv": `id,digest\n1,${digest}\n2,short\n`
    })
    try {
      assert.strictEqual(cli(project.dir, ["apply"]).code, 0)
      const cut = cli(project.dir, ["show", "bronze.s"])
      assert.strictEqual(cut.code, 0, cut.stderr)
      assert.include(cut.stdout, `${digest.slice(0, 39)}…`)
      assert.notInclude(cut.stdout, digest)
      assert.include(cut.stdout, "--wide shows them whole")
      const wide = cli(project.dir, ["show", "bronze.s", "--wide"])
      assert.include(wide.stdout, digest)
      assert.notInclude(wide.stdout, "…")
    } finally {
      project.remove()
    }
  })
})
