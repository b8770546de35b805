/**
 * The read endpoint a DuckDB warehouse's holder serves (ReadEndpoint.ts) and the executor the
 * reading commands use against it (RemoteExecutor.ts), in one process: committed rows come back,
 * and what a reader must not do is refused: a write (as a statement or disguised as a query), a
 * wrong token, a holder that is gone. The CLI tests cover the same through processes
 * (test/cli/readers.test.ts); these run where coverage sees them.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor, type ExecutorError } from "../../src/executor/Executor.ts"
import * as ReadEndpoint from "../../src/executor/ReadEndpoint.ts"
import * as RemoteExecutor from "../../src/executor/RemoteExecutor.ts"

const warehouse = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "medallion-read-endpoint-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => join(dir, "warehouse.duckdb")))

/** The holder's side: the warehouse open for writing, its reads served and announced beside it. */
const holder = (database: string) => ReadEndpoint.layer(database).pipe(Layer.provideMerge(DuckDbExecutor.layer({ path: database })), Layer.provideMerge(NodeServices.layer))

const announcement = (database: string) =>
  RemoteExecutor.find(database).pipe(
    Effect.map((found) => Option.getOrThrowWith(found, () => new Error(`no announcement beside ${database}`))),
    Effect.provide(NodeServices.layer)
  )

/** Runs `use` on a session of the remote executor. */
const remotely = <A>(endpoint: RemoteExecutor.Announcement, use: (executor: Executor["Service"]) => Effect.Effect<A, ExecutorError>) =>
  Effect.gen(function* () {
    return yield* use(yield* Executor)
  }).pipe(Effect.provide(RemoteExecutor.layer(endpoint)))

const failure = <A>(exit: Exit.Exit<A, ExecutorError>): ExecutorError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  assert.isTrue(Option.isSome(error), "expected a typed error")
  return Option.getOrThrow(error)
}

const count = (executor: Executor["Service"]) => executor.withSession((s) => s.query("SELECT count(*)::INTEGER AS n FROM t")).pipe(Effect.map((rows) => rows[0]?.["n"]))

describe("the read endpoint of a warehouse's holder", () => {
  it.live("serves committed rows, with parameters, to a reader that has the announced token", () =>
    Effect.gen(function* () {
      const database = yield* warehouse
      yield* Effect.gen(function* () {
        const local = yield* Executor
        yield* local.withSession((s) => s.execute("CREATE TABLE t AS SELECT range AS id, 'row ' || range AS label FROM range(3)"))
        const endpoint = yield* announcement(database)
        assert.strictEqual(endpoint.pid, process.pid)
        const rows = yield* remotely(endpoint, (remote) => remote.withSession((s) => s.queryWith!("SELECT label FROM t WHERE id >= $1 ORDER BY id", [1])))
        assert.deepStrictEqual(rows, [{ label: "row 1" }, { label: "row 2" }])
        yield* remotely(endpoint, (remote) => remote.healthCheck)
      }).pipe(Effect.provide(holder(database)))
      assert.isFalse(existsSync(`${database}.readers`), "the announcement goes when the holder stops serving")
    }).pipe(Effect.scoped)
  )

  it.live("refuses writes: a statement, a query that writes, and a write after a read (rolled back)", () =>
    Effect.gen(function* () {
      const database = yield* warehouse
      yield* Effect.gen(function* () {
        const local = yield* Executor
        yield* local.withSession((s) => s.execute("CREATE TABLE t AS SELECT range AS id FROM range(5)"))
        const endpoint = yield* announcement(database)

        const statement = failure(yield* Effect.exit(remotely(endpoint, (remote) => remote.withSession((s) => s.execute("DELETE FROM t")))))
        assert.include(statement.message, "read-only: another process holds the warehouse")

        const disguised = failure(yield* Effect.exit(remotely(endpoint, (remote) => remote.withSession((s) => s.query("DELETE FROM t RETURNING id")))))
        assert.include(disguised.message, "only reads are served")
        assert.isFalse(disguised.isRetryable)

        // Starts as a read, then writes: the endpoint runs every read in a transaction it rolls back.
        yield* Effect.exit(remotely(endpoint, (remote) => remote.withSession((s) => s.query("SELECT 1 AS one; DELETE FROM t"))))
        assert.strictEqual(yield* count(local), 5, "nothing a reader sends changes the warehouse")
      }).pipe(Effect.provide(holder(database)))
    }).pipe(Effect.scoped)
  )

  it.live("a wrong token is refused; a failing read says why; a holder that is gone is a transient error", () =>
    Effect.gen(function* () {
      const database = yield* warehouse
      const endpoint = yield* Effect.gen(function* () {
        const local = yield* Executor
        yield* local.withSession((s) => s.execute("CREATE TABLE t AS SELECT 1 AS id"))
        const endpoint = yield* announcement(database)

        const wrong = failure(yield* Effect.exit(remotely({ ...endpoint, token: "0".repeat(64) }, (remote) => count(remote))))
        assert.include(wrong.message, "unknown token")
        assert.isFalse(wrong.isRetryable)

        const missing = failure(yield* Effect.exit(remotely(endpoint, (remote) => remote.withSession((s) => s.query("SELECT nope FROM t")))))
        assert.include(missing.message, "nope")
        assert.isFalse(missing.isRetryable)
        return endpoint
      }).pipe(Effect.provide(holder(database)))

      const gone = failure(yield* Effect.exit(remotely(endpoint, (remote) => count(remote))))
      assert.include(gone.message, `the process holding the warehouse (pid ${process.pid}) did not answer`)
      assert.isTrue(gone.isRetryable, "the reader may open the file itself now, or try again")
    }).pipe(Effect.scoped)
  )
})
