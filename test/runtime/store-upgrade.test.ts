/** Opening a store written by an older version upgrades it in place and keeps its history. */
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor } from "../../src/executor/Executor.ts"
import { MetadataStore } from "../../src/metadata/MetadataStore.ts"
import * as SqlMetadataStore from "../../src/metadata/SqlMetadataStore.ts"
import { makeProject, rows } from "../support/project.ts"

describe("store upgrade", () => {
  it.effect(
    "version 2 -> 5: runs and table states lose their primary keys (every checkpoint wrote a whole index; each publish paid for it) and keep every row; table states gain their definition",
    () =>
      Effect.gen(function* () {
        const project = makeProject()
        yield* Effect.addFinalizer(() => Effect.sync(project.remove))
        const file = join(project.dir, "warehouse.duckdb")
        // The runs table as version 2 created it, with two runs.
        yield* Effect.promise(async () => {
          const db = await DuckDBInstance.create(file)
          const c = await db.connect()
          await c.run("CREATE SCHEMA _medallion")
          await c.run(`CREATE TABLE _medallion.runs (batch_id VARCHAR PRIMARY KEY, pipelines VARCHAR, env VARCHAR, engine VARCHAR,
          started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR, records_in BIGINT, records_out BIGINT, duration_seconds DOUBLE,
          errors BIGINT, success_rate DOUBLE, throughput DOUBLE, unchanged_tables VARCHAR)`)
          await c.run(`INSERT INTO _medallion.runs VALUES
          ('20261101T000000000Z-00000001', 'shop', 'default', 'duckdb', '2026-11-01T00:00:00Z', '2026-11-01T00:00:01Z', 'succeeded', 5, 4, 1, 0, 0.8, 5, ''),
          ('20261101T010000000Z-00000002', 'shop', 'default', 'duckdb', '2026-11-01T01:00:00Z', '2026-11-01T01:00:01Z', 'succeeded', 0, 0, 1, 0, 1, 0, 'gold.a')`)
          await c.run(
            `CREATE TABLE _medallion.table_state (table_id VARCHAR PRIMARY KEY, parts VARCHAR, inputs VARCHAR, data_version VARCHAR, files VARCHAR, updated_at TIMESTAMPTZ)`
          )
          await c.run(`INSERT INTO _medallion.table_state VALUES ('gold.a', '{"sql":"h1"}', '{}', 'b1/b1', '{}', '2026-11-01T00:00:01Z')`)
          await c.run("CREATE TABLE _medallion.meta AS SELECT 2 AS version")
          c.closeSync()
          db.closeSync()
        })
        const upgraded = yield* Effect.gen(function* () {
          const store = yield* MetadataStore
          const runs = yield* store.recentRuns(10)
          const keys = yield* rows(`SELECT count(*) AS n FROM duckdb_constraints() WHERE schema_name = '_medallion' AND constraint_type = 'PRIMARY KEY'`)
          const version = yield* rows("SELECT version FROM _medallion.meta")
          const leftovers = yield* rows("SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = '_medallion' AND table_name LIKE '%unkeyed'")
          const before = (yield* store.tableStates).get("gold.a")
          // A state written now keeps the definition, for plan --diff.
          const executor = yield* Executor
          yield* executor.withSession((s) => store.saveState(s, "gold.a", { ...before!, definition: { transforms: [{ filter: "x > 1" }] } }))
          const after = (yield* store.tableStates).get("gold.a")
          return {
            runs: runs.map((r) => [r.batch_id, r.records_in, r.unchanged_tables]),
            keys: keys[0]?.["n"],
            version: version[0]?.["version"],
            leftovers: leftovers[0]?.["n"],
            states: [before?.dataVersion, before?.definition, after?.definition]
          }
        }).pipe(Effect.provide(Layer.provideMerge(SqlMetadataStore.layer, DuckDbExecutor.layer({ path: file })).pipe(Layer.provideMerge(NodeServices.layer))))
        assert.deepStrictEqual(upgraded, {
          runs: [
            ["20261101T010000000Z-00000002", 0, ["gold.a"]],
            ["20261101T000000000Z-00000001", 5, []]
          ],
          keys: "0",
          version: 5,
          leftovers: "0",
          states: ["b1/b1", undefined, { transforms: [{ filter: "x > 1" }] }]
        })
      })
  )
})
