/**
 * The warehouse lock for engines without a local file to lock (Databricks): one row in the
 * `_medallion.locks` table, taken with one MERGE that inserts it only when there is none or it
 * has expired. Delta's optimistic concurrency makes two racing MERGEs on the table conflict, so
 * one of them commits and the other (retried by the executor) finds the row held. The holder
 * extends the expiry while it runs (every ttl/3) and deletes the row when the scope closes,
 * whether the run succeeded, failed or was interrupted; a row left by a crashed run expires
 * after `ttl`. Owns nothing about files (Lock.ts is the DuckDB file lock).
 */
import { hostname } from "node:os"
import { Clock, Duration, Effect, Random } from "effect"
import { Executor, type ExecutorError } from "../executor/Executor.ts"
import { type Holder, LockHeld } from "./Lock.ts"

export interface WarehouseLockOptions {
  /** How the warehouse is named in messages, e.g. "databricks adb-1.azuredatabricks.net catalog main". */
  readonly database: string
  /** Who is locking, e.g. "medallion apply". */
  readonly command: string
  readonly wait?: boolean | undefined
  /** How long a lock lives without being extended (default 2 minutes). */
  readonly ttl?: Duration.Input | undefined
  readonly pollEvery?: Duration.Input | undefined
  readonly onWaiting?: ((held: LockHeld) => Effect.Effect<void>) | undefined
}

const NAME = "apply"

/** Runs `effect` holding the warehouse lock; fails with LockHeld when another run holds it (unless `wait`). */
export const withWarehouseLock =
  (options: WarehouseLockOptions) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LockHeld | ExecutorError, R | Executor> =>
    Effect.scoped(
      Effect.gen(function* () {
        const executor = yield* Executor
        const d = executor.dialect
        const table = d.table("_medallion", "locks")
        const ttl = Duration.toMillis(Duration.fromInputUnsafe(options.ttl ?? "2 minutes"))
        const pollEvery = Duration.fromInputUnsafe(options.pollEvery ?? "5 seconds")
        const holder: Holder = {
          pid: globalThis.process.pid,
          host: hostname(),
          started_at: new Date(yield* Clock.currentTimeMillis).toISOString(),
          command: options.command
        }
        // The row's holder: who holds it (for others' messages) plus a nonce, so two runs never mistake each other.
        const mine = JSON.stringify({ ...holder, nonce: (yield* Random.nextIntBetween(0, 0x7fffffff)).toString(16) })
        const run = (sql: string) => executor.withSession((s) => s.execute(sql))

        yield* run(d.createTableIfMissing(table, `SELECT ${d.cast("NULL", "VARCHAR")} AS name, ${d.cast("NULL", "VARCHAR")} AS holder, CAST(NULL AS BIGINT) AS expires_at`))

        const tryAcquire = Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          yield* run(`MERGE INTO ${table} AS t USING (SELECT ${d.literal(NAME)} AS name, ${d.literal(mine)} AS holder, CAST(${now + ttl} AS BIGINT) AS expires_at) AS s ON t.name = s.name
      WHEN MATCHED AND t.expires_at < ${now} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`)
          const rows = yield* executor.withSession((s) => s.query(`SELECT holder FROM ${table} WHERE name = ${d.literal(NAME)}`))
          const current = rows.map((r) => String(r["holder"]))
          if (current.length === 1 && current[0] === mine) return undefined
          const other = current.find((h) => h !== mine)
          const parsed =
            other === undefined
              ? undefined
              : (() => {
                  try {
                    const h = JSON.parse(other) as Holder
                    return { pid: h.pid, host: h.host, started_at: h.started_at, command: h.command }
                  } catch {
                    return undefined
                  }
                })()
          return new LockHeld({ database: options.database, lockFile: table, ...(parsed === undefined ? {} : { holder: parsed }) })
        })

        let held = yield* tryAcquire
        if (held !== undefined) {
          if (options.wait !== true) return yield* held
          if (options.onWaiting) yield* options.onWaiting(held)
          while (held !== undefined) {
            yield* Effect.sleep(pollEvery)
            held = yield* tryAcquire
          }
        }
        yield* Effect.addFinalizer(() => Effect.ignore(run(`DELETE FROM ${table} WHERE name = ${d.literal(NAME)} AND holder = ${d.literal(mine)}`)))
        // Keep the lock alive while the run lasts.
        yield* Effect.forkScoped(
          Effect.forever(
            Effect.gen(function* () {
              yield* Effect.sleep(Duration.millis(ttl / 3))
              const now = yield* Clock.currentTimeMillis
              yield* Effect.ignore(run(`UPDATE ${table} SET expires_at = ${now + ttl} WHERE name = ${d.literal(NAME)} AND holder = ${d.literal(mine)}`))
            })
          )
        )
        return yield* effect
      })
    )
