/** `${VAR}` and `${VAR:-default}` in a pipeline's source and target paths, through the CLI. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { cli, makeProject } from "../support/project.ts"
import { locate } from "../spec/positions.ts"

const pipeline = `version: 1
pipeline: landing
sources:
  orders: { format: csv, path: "\${LANDING:-data}/orders.csv" }
bronze:
  orders: { from: orders }
gold:
  orders:
    sql: "select id, '\${NOT_EXPANDED}' as note from {{ bronze.orders }}"
    targets: [ { csv: "\${EXPORTS}/orders.csv" } ]
`

describe("environment variables in pipeline paths", () => {
  it("fill source and target paths (a default when unset), and SQL text keeps ${...} as written", () => {
    const project = makeProject({ "pipelines/landing.yaml": pipeline, "data/orders.csv": "id\n1\n", "elsewhere/orders.csv": "id\n2\n3\n" })
    try {
      const unset = cli(project.dir, ["validate"], { EXPORTS: "" })
      assert.strictEqual(unset.code, 2, unset.stderr)
      const at = locate(pipeline, `"\${EXPORTS}`)
      assert.include(unset.stderr, `pipelines/landing.yaml:${at.line}:${at.column}: environment variable EXPORTS is not set; set it or write \${EXPORTS:-default}`)

      const defaulted = cli(project.dir, ["apply"], { EXPORTS: "out" })
      assert.strictEqual(defaulted.code, 0, defaulted.stderr)
      assert.include(cli(project.dir, ["show", "gold.orders"]).stdout, "${NOT_EXPANDED}")

      const elsewhere = cli(project.dir, ["apply", "--full-refresh"], { EXPORTS: "out", LANDING: "elsewhere" })
      assert.strictEqual(elsewhere.code, 0, elsewhere.stderr)
      const shown = cli(project.dir, ["show", "bronze.orders"])
      assert.include(shown.stdout, "elsewhere/orders.csv")
      assert.notInclude(shown.stdout, "data/orders.csv")
      assert.match(readFileSync(join(project.dir, "out", "orders.csv"), "utf8"), /^id,note\n2,\$\{NOT_EXPANDED\}\n3,/)
    } finally {
      project.remove()
    }
  })
})
