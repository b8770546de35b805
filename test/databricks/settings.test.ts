/**
 * The `databricks:` settings: the shipped config/databricks.yaml, fallbacks to the DATABRICKS_*
 * variables, secrets kept Redacted, validation of schema_prefix and wait_timeout, and the
 * executor options (or the message naming what is missing) that the CLI derives from them.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
import { databricksOptions } from "../../src/cli/context.ts"
import { loadSettings } from "../../src/settings/Settings.ts"
import { makeProject, repoRoot } from "../support/project.ts"

const shipped = readFileSync(join(repoRoot, "config", "databricks.yaml"), "utf8")

const load = (files: Readonly<Record<string, string>>, environment: Readonly<Record<string, string>>, env = "databricks") => {
  const project = makeProject(files)
  return loadSettings({ projectDir: project.dir, env, environment }).pipe(Effect.provide(NodeServices.layer), Effect.ensuring(Effect.sync(project.remove)))
}

describe("databricks settings", () => {
  it.effect("the shipped config/databricks.yaml reads the DATABRICKS_* variables; secrets stay Redacted", () =>
    Effect.gen(function* () {
      const settings = yield* load(
        { "config/databricks.yaml": shipped },
        {
          DATABRICKS_HOST: "https://adb-1.2.azuredatabricks.net",
          DATABRICKS_WAREHOUSE_ID: "abc123",
          DATABRICKS_TOKEN: "dapi-very-secret"
        }
      )
      assert.strictEqual(settings.engine, "databricks")
      const d = settings.databricks
      assert.deepStrictEqual(
        [d.host, d.warehouseId, d.catalog, d.schemaPrefix, d.waitTimeout, d.clientId],
        ["https://adb-1.2.azuredatabricks.net", "abc123", "main", "", "10s", undefined]
      )
      assert.strictEqual(Redacted.value(d.token!), "dapi-very-secret")
      assert.notInclude(JSON.stringify(d) + String(d.token), "dapi-very-secret")
      const options = databricksOptions(settings)
      assert.isTrue(Result.isSuccess(options))
      assert.strictEqual(Result.getOrThrow(options).auth._tag, "Token")
    })
  )

  it.effect("falls back to the variables when keys are absent, and prefers OAuth client credentials without a token", () =>
    Effect.gen(function* () {
      const settings = yield* load(
        { "config/databricks.yaml": "engine: databricks\ndatabricks: { catalog: lake, schema_prefix: shop_, wait_timeout: 0s }\n" },
        {
          DATABRICKS_HOST: "adb-9.azuredatabricks.net",
          DATABRICKS_WAREHOUSE_ID: "w9",
          DATABRICKS_CLIENT_ID: "sp-1",
          DATABRICKS_CLIENT_SECRET: "sp-secret"
        }
      )
      const options = Result.getOrThrow(databricksOptions(settings))
      assert.deepStrictEqual([options.host, options.warehouseId, options.catalog, options.schemaPrefix], ["adb-9.azuredatabricks.net", "w9", "lake", "shop_"])
      assert.strictEqual(options.auth._tag, "OAuth")
      assert.strictEqual(options.auth._tag === "OAuth" ? Redacted.value(options.auth.clientSecret) : "", "sp-secret")
    })
  )

  it.effect("names what is missing for engine: databricks", () =>
    Effect.gen(function* () {
      const settings = yield* load({ "config/databricks.yaml": shipped }, { DATABRICKS_CLIENT_ID: "sp-1" })
      const options = databricksOptions(settings)
      assert.isTrue(Result.isFailure(options))
      assert.strictEqual(
        Result.isFailure(options) ? options.failure.message : "",
        "config/databricks.yaml:1:1: engine: databricks needs databricks.host (or DATABRICKS_HOST); databricks.warehouse_id (or DATABRICKS_WAREHOUSE_ID); databricks.token (or DATABRICKS_TOKEN), or databricks.client_id and client_secret (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)"
      )
    })
  )

  it.effect("rejects a schema prefix that is not a plain name and a wait timeout the API does not take", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(load({ "config/databricks.yaml": 'engine: databricks\ndatabricks: { schema_prefix: "a-b", wait_timeout: 60s }\n' }, {}))
      assert.strictEqual(bad._tag, "SpecError")
      assert.include(bad.message, "schema_prefix")
      assert.include(bad.message, "wait_timeout")
    })
  )
})
