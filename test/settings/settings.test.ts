/** Settings: ${VAR} interpolation, deep merge, MEDALLION_* overrides, loading config/<env>.yaml, and secrets. */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
import { join } from "node:path"
import { vi } from "vitest"
import { envOverrides, interpolate, loadSettings, merge } from "../../src/settings/Settings.ts"
import { logLayer } from "../../src/telemetry/Telemetry.ts"
import type { Problem } from "../../src/spec/SpecError.ts"
import { makeProject } from "../support/project.ts"
import { locate } from "../spec/positions.ts"

/** Records the path of each problem in its message, so tests can see where it was reported. */
const problemAt = (path: ReadonlyArray<string | number>, message: string): Problem => ({
  file: "config/default.yaml",
  line: 1,
  column: 1,
  message: `${JSON.stringify(path)} ${message}`
})

describe("interpolate", () => {
  it("replaces ${VAR} and ${VAR:-default} in every string, deeply, and keeps other values", () => {
    const value = {
      host: "${HOST}",
      url: "https://${HOST}:${PORT:-443}/x",
      list: ["${HOST}", "${EMPTY:-fallback}", "${UNSET:-}"],
      nested: { n: 3, flag: true, nothing: null, plain: "no $ here" }
    }
    const result = interpolate(value, { HOST: "db.local", EMPTY: "" }, problemAt)
    assert.deepStrictEqual(Result.getOrThrow(result), {
      host: "db.local",
      url: "https://db.local:443/x",
      list: ["db.local", "fallback", ""],
      nested: { n: 3, flag: true, nothing: null, plain: "no $ here" }
    })
  })

  it("prefers the environment over the default", () => {
    assert.deepStrictEqual(Result.getOrThrow(interpolate({ p: "${PORT:-443}" }, { PORT: "8443" }, problemAt)), { p: 8443 })
  })

  it("gives a value that is one whole variable the variable's YAML type, and keeps text inside strings", () => {
    const result = Result.getOrThrow(interpolate({ threads: "${T:-2}", on: "${ON}", name: "db-${T:-2}" }, { ON: "true" }, problemAt))
    assert.deepStrictEqual(result, { threads: 2, on: true, name: "db-2" })
  })

  it("reports every missing variable by name and by path", () => {
    const result = interpolate({ a: "${ONE}", b: ["ok", "${TWO}-${THREE}"] }, {}, problemAt)
    assert.isTrue(Result.isFailure(result))
    const messages = Result.isFailure(result) ? result.failure.map((p) => p.message) : []
    assert.strictEqual(messages.length, 3)
    assert.include(messages[0]!, '["a"]')
    assert.include(messages[0]!, "environment variable ONE is not set")
    assert.include(messages[0]!, "${ONE:-default}")
    assert.include(messages[1]!, '["b",1]')
    assert.include(messages[1]!, "TWO")
    assert.include(messages[2]!, "THREE")
  })
})

describe("merge", () => {
  it("merges objects key by key; scalars and lists of the overlay win", () => {
    assert.deepStrictEqual(merge({ engine: "duckdb", duckdb: { path: "a.duckdb", threads: 2 }, list: [1, 2], keep: 1 }, { duckdb: { threads: 8 }, list: [3], extra: { x: 1 } }), {
      engine: "duckdb",
      duckdb: { path: "a.duckdb", threads: 8 },
      list: [3],
      keep: 1,
      extra: { x: 1 }
    })
  })

  it("keeps the base where the overlay is undefined, and replaces an object by a scalar", () => {
    assert.deepStrictEqual(merge({ a: 1 }, undefined), { a: 1 })
    assert.deepStrictEqual(merge({ a: { b: 1 } }, { a: "flat" }), { a: "flat" })
  })
})

describe("envOverrides", () => {
  it("maps MEDALLION_SECTION__KEY to nested keys, reading values as YAML scalars", () => {
    assert.deepStrictEqual(
      envOverrides({
        MEDALLION_DUCKDB__THREADS: "4",
        MEDALLION_ENGINE: "duckdb",
        MEDALLION_LOG_LEVEL: "debug",
        MEDALLION_API__AUTH__JWT_SECRET: "s3cret",
        MEDALLION_TELEMETRY__TRACES: "off",
        HOME: "/home/someone",
        PATH: "/usr/bin"
      }),
      {
        duckdb: { threads: 4 },
        engine: "duckdb",
        log_level: "debug",
        api: { auth: { jwt_secret: "s3cret" } },
        telemetry: { traces: "off" }
      }
    )
  })

  it("ignores MEDALLION_ENV, which picks the environment, and undefined values", () => {
    assert.deepStrictEqual(envOverrides({ MEDALLION_ENV: "prod", MEDALLION_STORAGE: undefined }), {})
  })
})

const defaultYaml = `engine: duckdb
storage: ./.medallion
duckdb:
  path: ./.medallion/warehouse.duckdb
  threads: 2
  memory_limit: \${MEMORY:-4GB}
log_level: info
`

/** Loads the settings of a fresh project holding `files`, then removes the project. */
const load = (files: Readonly<Record<string, string>>, options: { readonly env?: string; readonly environment?: Readonly<Record<string, string>> } = {}) => {
  const project = makeProject(files)
  return loadSettings({ projectDir: project.dir, env: options.env, environment: options.environment ?? {} }).pipe(
    Effect.map((settings) => ({ settings, dir: project.dir })),
    Effect.provide(NodeServices.layer),
    Effect.ensuring(Effect.sync(project.remove))
  )
}

const loadError = (files: Readonly<Record<string, string>>, options: { readonly env?: string; readonly environment?: Readonly<Record<string, string>> } = {}) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(load(files, options))
    assert.strictEqual(error._tag, "SpecError")
    return error
  })

describe("loadSettings", () => {
  it.effect("applies defaults when there is no config at all, with paths made absolute", () =>
    Effect.gen(function* () {
      const { settings, dir } = yield* load({})
      assert.strictEqual(settings.env, "default")
      assert.strictEqual(settings.engine, "duckdb")
      assert.strictEqual(settings.concurrency, 4)
      assert.strictEqual(settings.storage, join(dir, ".medallion"))
      assert.strictEqual(settings.duckdb.path, join(dir, ".medallion", "warehouse.duckdb"))
      assert.strictEqual(settings.duckdb.threads, undefined)
    })
  )

  it.effect("reads config/default.yaml and interpolates it", () =>
    Effect.gen(function* () {
      const { settings, dir } = yield* load({ "config/default.yaml": defaultYaml }, { environment: { MEMORY: "1GB" } })
      assert.strictEqual(settings.duckdb.path, join(dir, ".medallion", "warehouse.duckdb"))
      assert.strictEqual(settings.duckdb.threads, 2)
      assert.strictEqual(settings.duckdb.memoryLimit, "1GB")
      assert.strictEqual(settings.file.log_level, "info")
    })
  )

  it.effect("lays config/<env>.yaml over the default, chosen by env or by MEDALLION_ENV", () =>
    Effect.gen(function* () {
      const files = {
        "config/default.yaml": defaultYaml,
        "config/prod.yaml": "duckdb:\n  threads: 8\nconcurrency: 2\n"
      }
      const byFlag = (yield* load(files, { env: "prod" })).settings
      assert.strictEqual(byFlag.env, "prod")
      assert.strictEqual(byFlag.duckdb.threads, 8)
      assert.strictEqual(byFlag.duckdb.memoryLimit, "4GB", "keys the overlay does not set stay")
      assert.strictEqual(byFlag.concurrency, 2)
      const byVariable = (yield* load(files, { environment: { MEDALLION_ENV: "prod" } })).settings
      assert.strictEqual(byVariable.env, "prod")
      assert.strictEqual(byVariable.duckdb.threads, 8)
      const flagWins = (yield* load({ ...files, "config/ci.yaml": "concurrency: 1\n" }, { env: "ci", environment: { MEDALLION_ENV: "prod" } })).settings
      assert.strictEqual(flagWins.env, "ci")
      assert.strictEqual(flagWins.concurrency, 1)
      assert.strictEqual(flagWins.duckdb.threads, 2)
    })
  )

  it.effect("lets MEDALLION_SECTION__KEY override every file", () =>
    Effect.gen(function* () {
      const { settings } = yield* load(
        { "config/default.yaml": defaultYaml, "config/prod.yaml": "duckdb:\n  threads: 8\n" },
        { env: "prod", environment: { MEDALLION_DUCKDB__THREADS: "16", MEDALLION_LOG_LEVEL: "debug" } }
      )
      assert.strictEqual(settings.duckdb.threads, 16)
      assert.strictEqual(settings.file.log_level, "debug")
    })
  )

  it.effect("refuses a memory limit that is not a size, naming the setting and where it came from", () =>
    Effect.gen(function* () {
      const fromVariable = yield* loadError({ "config/default.yaml": defaultYaml }, { environment: { MEMORY: "1GB", MEDALLION_DUCKDB__MEMORY_LIMIT: "bogus" } })
      assert.deepStrictEqual(
        fromVariable.problems.map((p) => [p.file, p.message]),
        [["environment", "MEDALLION_DUCKDB__MEMORY_LIMIT: not a size: write a number and a unit, e.g. 4GB or 512MiB"]]
      )
      const fromFile = yield* loadError({ "config/default.yaml": "duckdb:\n  memory_limit: lots\n" })
      assert.deepStrictEqual(
        fromFile.problems.map((p) => [p.file, p.line, p.message]),
        [[join("config", "default.yaml"), 2, "duckdb.memory_limit: not a size: write a number and a unit, e.g. 4GB or 512MiB"]]
      )
      for (const size of ["4GB", "512MiB", "1.5 gb", "100kb"]) {
        assert.strictEqual((yield* load({ "config/default.yaml": `duckdb:\n  memory_limit: ${size}\n` })).settings.duckdb.memoryLimit, size)
      }
    })
  )

  it.effect("refuses an environment without a config file", () =>
    Effect.gen(function* () {
      const error = yield* loadError({ "config/default.yaml": defaultYaml }, { env: "staging" })
      assert.strictEqual(error.problems.length, 1)
      assert.strictEqual(error.problems[0]!.file, join("config", "staging.yaml"))
      assert.include(error.problems[0]!.message, '"staging"')
      assert.include(error.problems[0]!.message, join("config", "staging.yaml"))
    })
  )

  it.effect("reports a missing variable by name at its file:line:col", () =>
    Effect.gen(function* () {
      const text = "engine: duckdb\ndatabricks:\n  host: ${DATABRICKS_HOST}\n"
      const error = yield* loadError({ "config/default.yaml": text })
      assert.strictEqual(error.problems.length, 1)
      const problem = error.problems[0]!
      assert.strictEqual(problem.file, join("config", "default.yaml"))
      assert.deepStrictEqual([problem.line, problem.column], [3, locate(text, "${DATABRICKS_HOST}").column])
      assert.include(problem.message, "DATABRICKS_HOST")
      assert.include(problem.message, "not set")
    })
  )

  it.effect("reports an unknown key in a config file with a suggestion, at file:line:col", () =>
    Effect.gen(function* () {
      const text = "duckdb:\n  thread: 8\n"
      const error = yield* loadError({ "config/default.yaml": defaultYaml, "config/prod.yaml": text }, { env: "prod" })
      assert.strictEqual(error.problems.length, 1)
      const problem = error.problems[0]!
      assert.strictEqual(problem.file, join("config", "prod.yaml"))
      assert.deepStrictEqual([problem.line, problem.column], [2, 3])
      assert.include(problem.message, 'unknown key "thread"')
      assert.include(problem.message, "did you mean threads?")
    })
  )

  it.effect("reports a wrong type and a bad engine at their values", () =>
    Effect.gen(function* () {
      const text = "engine: postgres\nconcurrency: lots\n"
      const error = yield* loadError({ "config/default.yaml": text })
      assert.deepStrictEqual(
        error.problems.map((p) => [p.line, p.column]),
        [
          [1, 9],
          [2, 14]
        ]
      )
      assert.include(error.problems[0]!.message, "engine")
      assert.include(error.problems[0]!.message, '"duckdb"')
      assert.include(error.problems[1]!.message, "concurrency")
    })
  )

  it.effect("refuses an override of a key that does not exist, naming the key", () =>
    Effect.gen(function* () {
      const error = yield* loadError({ "config/default.yaml": defaultYaml }, { environment: { MEDALLION_DUCKDB__THREDS: "3" } })
      assert.include(error.message, "threds")
    })
  )

  it.effect("stops an alias bomb in a config file at file:line:col", () =>
    Effect.gen(function* () {
      const levels = Array.from({ length: 10 }, (_, i) => `  l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)
      const text = `log_level: &l0 info\ndatabricks:\n${levels.join("\n")}\n`
      const error = yield* loadError({ "config/default.yaml": text })
      assert.strictEqual(error.problems.length, 1)
      const problem = error.problems[0]!
      assert.strictEqual(problem.file, join("config", "default.yaml"))
      assert.deepStrictEqual([problem.line, problem.column], [locate(text, "*l1").line, locate(text, "*l1").column])
      assert.include(problem.message, "aliases expand too far")
    })
  )

  it.effect("reads an environment value that is not YAML as text, and reports it against the setting", () =>
    Effect.gen(function* () {
      const override = yield* loadError({ "config/default.yaml": defaultYaml }, { environment: { MEDALLION_DUCKDB__THREADS: "[a" } })
      assert.include(override.message, "MEDALLION_DUCKDB__THREADS")
      const variable = yield* loadError({ "config/default.yaml": "duckdb:\n  threads: ${T}\n" }, { environment: { T: "a: b: c" } })
      assert.deepStrictEqual([variable.problems[0]!.line, variable.problems[0]!.column], [2, 12])
      assert.include(variable.message, "threads")
    })
  )

  it.effect("refuses a JWT secret shorter than 32 bytes at its file:line:col, saying how to make one, without showing it", () =>
    Effect.gen(function* () {
      const text = "api:\n  auth:\n    jwt_secret: ${JWT}\n"
      const error = yield* loadError({ "config/default.yaml": text }, { environment: { JWT: "only-24-bytes-of-secret!" } })
      assert.strictEqual(error.problems.length, 1)
      const problem = error.problems[0]!
      assert.strictEqual(problem.file, join("config", "default.yaml"))
      assert.deepStrictEqual([problem.line, problem.column], [3, locate(text, "${JWT}").column])
      assert.include(problem.message, "api.auth.jwt_secret")
      assert.include(problem.message, "24 bytes, at least 32")
      assert.include(problem.message, "openssl rand -hex 32")
      assert.notInclude(error.message, "only-24-bytes-of-secret!")
      // Empty (the default `${MEDALLION_JWT_SECRET:-}`) turns HS256 off; 32 bytes are enough; an override is checked too.
      yield* load({ "config/default.yaml": 'api: { auth: { jwt_secret: "${JWT:-}" } }\n' })
      yield* load({ "config/default.yaml": text }, { environment: { JWT: "x".repeat(32) } })
      const override = yield* loadError({}, { environment: { MEDALLION_API__AUTH__JWT_SECRET: "short" } })
      assert.include(override.message, "MEDALLION_API__AUTH__JWT_SECRET")
      assert.include(override.message, "openssl rand -hex 32")
    })
  )

  it.effect("holds every secret as Redacted, and no log line shows one", () =>
    Effect.gen(function* () {
      const token = "dapi-settings-test-0123456789"
      const jwt = "a-jwt-secret-of-at-least-32-bytes-for-hs256"
      const key = "an-api-key-0123456789"
      const text = [
        'databricks: { token: "${DATABRICKS_TOKEN}", client_secret: oauth-secret-0123456789 }',
        `api: { auth: { jwt_secret: ${jwt}, api_keys: [{ name: ops, key: ${key}, scopes: [read] }] } }`,
        ""
      ].join("\n")
      const { settings } = yield* load({ "config/default.yaml": text }, { environment: { DATABRICKS_TOKEN: token } })
      const d = settings.file.databricks!
      const auth = settings.file.api!.auth!
      for (const secret of [d.token, d.client_secret, auth.jwt_secret, auth.api_keys![0]!.key, settings.databricks.token]) {
        assert.isTrue(Redacted.isRedacted(secret))
        assert.notInclude(String(secret), "0123456789")
      }
      assert.notInclude(JSON.stringify(settings), "0123456789")
      assert.strictEqual(Redacted.value(auth.jwt_secret!), jwt)
      // A log line that holds them (an error a remote end echoed, say) is written without them.
      const lines: Array<string> = []
      const capture = vi.spyOn(globalThis.console, "error").mockImplementation((line: unknown) => void lines.push(String(line)))
      try {
        const logged = Effect.logWarning(`rejected: Bearer ${token}; secret ${jwt}; key ${key}; oauth-secret-0123456789`)
        yield* logged.pipe(Effect.provide(logLayer("text", "Info")))
        yield* logged.pipe(Effect.provide(logLayer("json", "Info")))
      } finally {
        capture.mockRestore()
      }
      assert.strictEqual(lines.length, 2)
      for (const line of lines) {
        assert.include(line, "rejected: Bearer [redacted]; secret [redacted]; key [redacted]; [redacted]")
        for (const secret of [token, jwt, key]) assert.notInclude(line, secret)
      }
    })
  )

  it.effect("reports YAML syntax errors in a config file", () =>
    Effect.gen(function* () {
      const error = yield* loadError({ "config/default.yaml": "duckdb:\n  threads: 2\n path: x\n" })
      assert.strictEqual(error.problems[0]!.file, join("config", "default.yaml"))
      assert.strictEqual(error.problems[0]!.line, 3)
      assert.match(error.problems[0]!.message, /^YAML: /)
    })
  )
})
