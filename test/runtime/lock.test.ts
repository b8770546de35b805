/** The warehouse lock: exclusive create, release on every exit, holder details, stale takeover. */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref } from "effect"
import { acquire, isRunning, type LockHeld, type LockOptions, type StaleLock, withLock } from "../../src/runtime/Lock.ts"

/** A fresh directory for one test, removed afterwards; the database file itself is never created. */
const inDir = <A, E>(body: (database: string) => Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "medallion-lock-"))),
    (dir) => body(join(dir, "wh", "warehouse.duckdb")),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.provide(NodeServices.layer))

const options = (database: string, more: Partial<LockOptions> = {}): LockOptions => ({ database, command: "medallion apply", ...more })

const readLock = (database: string) => JSON.parse(readFileSync(`${database}.lock`, "utf8")) as Record<string, unknown>

/** A pid that was just used and is no longer running. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["--version"])
  assert.isFalse(isRunning(child.pid!), "the child should have exited")
  return child.pid!
}

const writeHolder = (database: string, holder: Record<string, unknown>) => writeFileSync(`${database}.lock`, JSON.stringify(holder))

describe("warehouse lock", () => {
  it.live("creates <database>.lock with the holder and removes it when the scope closes", () =>
    inDir((database) =>
      Effect.gen(function*() {
        const lock = yield* Effect.scoped(Effect.gen(function*() {
          const lock = yield* acquire(options(database))
          const onDisk = readLock(database)
          assert.deepStrictEqual(Object.keys(onDisk).toSorted(), ["command", "host", "pid", "started_at"])
          assert.strictEqual(onDisk["pid"], process.pid)
          assert.strictEqual(onDisk["host"], hostname())
          assert.strictEqual(onDisk["command"], "medallion apply")
          assert.strictEqual(new Date(onDisk["started_at"] as string).toISOString(), onDisk["started_at"])
          return lock
        }))
        assert.strictEqual(lock?.lockFile, `${database}.lock`)
        assert.isFalse(existsSync(`${database}.lock`))
        // The lock is written aside and linked into place; no draft is left behind.
        assert.deepStrictEqual(readdirSync(dirname(database)), [])
      })
    ))

  it.live("a draft left by a writer killed before linking it does not block anyone", () =>
    inDir((database) =>
      Effect.gen(function*() {
        mkdirSync(dirname(database), { recursive: true })
        writeFileSync(`${database}.lock.4242-17.tmp`, "{\"pid\":")
        yield* Effect.scoped(acquire(options(database)))
        assert.isFalse(existsSync(`${database}.lock`))
      })
    ))

  it.live("fails at once with LockHeld naming the holder when the lock is held", () =>
    inDir((database) =>
      Effect.scoped(Effect.gen(function*() {
        yield* acquire(options(database))
        const before = readFileSync(`${database}.lock`, "utf8")
        const error = yield* Effect.flip(Effect.scoped(acquire(options(database, { command: "medallion apply --select x" }))))
        assert.strictEqual(error._tag, "LockHeld")
        const held = error as LockHeld
        assert.strictEqual(held.holder?.pid, process.pid)
        assert.strictEqual(held.holder?.host, hostname())
        assert.match(
          held.message,
          new RegExp(`^the warehouse ${database} is in use by pid ${process.pid} on host ${hostname()} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(medallion apply\\); wait for it to finish, or run with --wait$`)
        )
        assert.strictEqual(readFileSync(`${database}.lock`, "utf8"), before, "the holder's lock is untouched")
      }))
    ))

  it.live("never takes over a lock held on another host, even if that pid is not running here", () =>
    inDir((database) =>
      Effect.gen(function*() {
        yield* Effect.scoped(acquire(options(database))) // creates the directory
        writeHolder(database, { pid: deadPid(), host: "elsewhere.example", started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" })
        const error = yield* Effect.flip(Effect.scoped(acquire(options(database))))
        assert.strictEqual(error._tag, "LockHeld")
        assert.include(error.message, "on host elsewhere.example since 2026-01-01T00:00:00.000Z")
      })
    ))

  it.live("takes over a lock whose pid is no longer running on this host, and says so", () =>
    inDir((database) =>
      Effect.gen(function*() {
        yield* Effect.scoped(acquire(options(database)))
        const pid = deadPid()
        writeHolder(database, { pid, host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" })
        const reported = yield* Ref.make<ReadonlyArray<StaleLock>>([])
        yield* Effect.scoped(Effect.gen(function*() {
          yield* acquire(options(database, { onTakeover: (s) => Ref.update(reported, (all) => [...all, s]) }))
          assert.strictEqual(readLock(database)["pid"], process.pid)
        }))
        const [stale] = yield* Ref.get(reported)
        assert.strictEqual(stale?.holder?.pid, pid)
        assert.strictEqual(stale?.reason, `pid ${pid} is no longer running on this host`)
        assert.isFalse(existsSync(`${database}.lock`))
        assert.isFalse(existsSync(`${database}.lock.takeover`))
      })
    ))

  it.live("treats an unreadable lock file as held while young and as stale once old", () =>
    inDir((database) =>
      Effect.gen(function*() {
        yield* Effect.scoped(acquire(options(database)))
        writeFileSync(`${database}.lock`, "{\"pid\": 12") // cut off while being written
        const young = yield* Effect.flip(Effect.scoped(acquire(options(database))))
        assert.strictEqual(young._tag, "LockHeld")
        assert.isUndefined((young as LockHeld).holder)
        assert.include(young.message, "is being written or is unreadable")

        const old = new Date(Date.now() - 60_000)
        utimesSync(`${database}.lock`, old, old)
        const reported = yield* Ref.make<ReadonlyArray<StaleLock>>([])
        yield* Effect.scoped(acquire(options(database, { onTakeover: (s) => Ref.update(reported, (all) => [...all, s]) })))
        const [stale] = yield* Ref.get(reported)
        assert.isUndefined(stale?.holder)
        assert.match(stale?.reason ?? "", /^the lock file is unreadable and \d+ s old$/)
      })
    ))

  it.live("of several racing takeovers of one stale lock, exactly one wins", () =>
    inDir((database) =>
      Effect.gen(function*() {
        yield* Effect.scoped(acquire(options(database)))
        const pid = deadPid()
        for (let round = 0; round < 10; round++) {
          writeHolder(database, { pid, host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" })
          const results = yield* Effect.all(
            Array.from({ length: 12 }, (_, i) =>
              Effect.result(Effect.scoped(Effect.sleep(`${i % 3} millis`).pipe(Effect.andThen(acquire(options(database))), Effect.andThen(Effect.sleep("100 millis")))))),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(results.filter((r) => r._tag === "Success").length, 1, `round ${round}`)
          assert.isFalse(existsSync(`${database}.lock`))
        }
      })
    ))

  it.live("does not take over while another process holds the takeover guard, but clears a guard left long ago", () =>
    inDir((database) =>
      Effect.gen(function*() {
        yield* Effect.scoped(acquire(options(database)))
        const pid = deadPid()
        writeHolder(database, { pid, host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" })
        writeFileSync(`${database}.lock.takeover`, "{}")
        const error = yield* Effect.flip(Effect.scoped(acquire(options(database))))
        assert.strictEqual((error as LockHeld).holder?.pid, pid)

        const old = new Date(Date.now() - 60_000)
        utimesSync(`${database}.lock.takeover`, old, old)
        yield* Effect.scoped(acquire(options(database)))
        assert.isFalse(existsSync(`${database}.lock.takeover`))
        assert.isFalse(existsSync(`${database}.lock`))
      })
    ))

  it.live("clears at once a takeover guard left by a process that died in the middle of a takeover", () =>
    inDir((database) =>
      Effect.gen(function*() {
        yield* Effect.scoped(acquire(options(database)))
        const dead = { pid: deadPid(), host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" }
        writeHolder(database, dead)
        writeFileSync(`${database}.lock.takeover`, JSON.stringify(dead))
        yield* Effect.scoped(acquire(options(database)))
        assert.isFalse(existsSync(`${database}.lock.takeover`))
        assert.isFalse(existsSync(`${database}.lock`))
      })
    ))

  it.live("releases the lock when the work fails", () =>
    inDir((database) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.fail("boom").pipe(withLock(options(database))))
        assert.isTrue(Exit.isFailure(exit))
        assert.isFalse(existsSync(`${database}.lock`))
      })
    ))

  it.live("releases the lock when the work is interrupted", () =>
    inDir((database) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Effect.never.pipe(withLock(options(database))))
        while (!existsSync(`${database}.lock`)) yield* Effect.sleep("5 millis")
        yield* Fiber.interrupt(fiber)
        assert.isFalse(existsSync(`${database}.lock`))
      })
    ))

  it.live("leaves a lock that is no longer ours in place on release", () =>
    inDir((database) =>
      Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          yield* acquire(options(database))
          writeHolder(database, { pid: 1, host: "elsewhere.example", started_at: "2026-01-01T00:00:00.000Z", command: "other" })
        }))
        assert.strictEqual(readLock(database)["host"], "elsewhere.example")
      })
    ))

  it.live("with wait, says once that it waits and takes the lock when it is released", () =>
    inDir((database) =>
      Effect.gen(function*() {
        const waited = yield* Ref.make(0)
        const first = yield* Effect.forkChild(Effect.sleep("300 millis").pipe(withLock(options(database))))
        while (!existsSync(`${database}.lock`)) yield* Effect.sleep("5 millis")
        const started = Date.now()
        const second = yield* Effect.scoped(Effect.gen(function*() {
          const lock = yield* acquire(options(database, { wait: true, pollEvery: "50 millis", onWaiting: () => Ref.update(waited, (n) => n + 1) }))
          return lock?.holder.started_at
        }))
        assert.isDefined(second)
        assert.isAtLeast(Date.now() - started, 150)
        assert.strictEqual(yield* Ref.get(waited), 1)
        yield* Fiber.join(first)
      })
    ))

  it.live("needs no lock for an in-memory database", () =>
    Effect.gen(function*() {
      const lock = yield* Effect.scoped(acquire(options(":memory:")))
      assert.isUndefined(lock)
    }).pipe(Effect.provide(NodeServices.layer)))
})
