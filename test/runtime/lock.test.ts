/** The warehouse lock: exclusive create, release on every exit, holder details, stale takeover. */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { acquire, isRunning, type LockHeld, type LockOptions, parseProcStat, type StaleLock, withLock } from "../../src/runtime/Lock.ts"
import { bootId, hasProc, procStat, sleeper, unreapedChild } from "../support/processes.ts"

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
      Effect.gen(function* () {
        const lock = yield* Effect.scoped(
          Effect.gen(function* () {
            const lock = yield* acquire(options(database))
            const onDisk = readLock(database)
            assert.deepStrictEqual(
              Object.keys(onDisk).toSorted(),
              hasProc ? ["boot_id", "command", "host", "pid", "start_ticks", "started_at"] : ["command", "host", "pid", "started_at"]
            )
            assert.strictEqual(onDisk["pid"], process.pid)
            if (hasProc) {
              assert.strictEqual(onDisk["start_ticks"], procStat(process.pid)?.startTicks)
              assert.strictEqual(onDisk["boot_id"], bootId())
            }
            assert.strictEqual(onDisk["host"], hostname())
            assert.strictEqual(onDisk["command"], "medallion apply")
            assert.strictEqual(new Date(onDisk["started_at"] as string).toISOString(), onDisk["started_at"])
            return lock
          })
        )
        assert.strictEqual(lock?.lockFile, `${database}.lock`)
        assert.isFalse(existsSync(`${database}.lock`))
        // The lock is written aside and linked into place; no draft is left behind.
        assert.deepStrictEqual(readdirSync(dirname(database)), [])
      })
    )
  )

  it.live("a draft left by a writer killed before linking it does not block anyone", () =>
    inDir((database) =>
      Effect.gen(function* () {
        mkdirSync(dirname(database), { recursive: true })
        writeFileSync(`${database}.lock.4242-17.tmp`, '{"pid":')
        yield* Effect.scoped(acquire(options(database)))
        assert.isFalse(existsSync(`${database}.lock`))
      })
    )
  )

  it.live("fails at once with LockHeld naming the holder when the lock is held", () =>
    inDir((database) =>
      Effect.scoped(
        Effect.gen(function* () {
          yield* acquire(options(database))
          const before = readFileSync(`${database}.lock`, "utf8")
          const error = yield* Effect.flip(Effect.scoped(acquire(options(database, { command: "medallion apply --select x" }))))
          assert.strictEqual(error._tag, "LockHeld")
          const held = error as LockHeld
          assert.strictEqual(held.holder?.pid, process.pid)
          assert.strictEqual(held.holder?.host, hostname())
          assert.match(
            held.message,
            new RegExp(
              `^the warehouse ${database} is in use by pid ${process.pid} on host ${hostname()} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(medallion apply\\); wait for it to finish, or run with --wait$`
            )
          )
          assert.strictEqual(readFileSync(`${database}.lock`, "utf8"), before, "the holder's lock is untouched")
        })
      )
    )
  )

  it.live("never takes over a lock held on another host, even if that pid is not running here", () =>
    inDir((database) =>
      Effect.gen(function* () {
        yield* Effect.scoped(acquire(options(database))) // creates the directory
        writeHolder(database, { pid: deadPid(), host: "elsewhere.example", started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" })
        const error = yield* Effect.flip(Effect.scoped(acquire(options(database))))
        assert.strictEqual(error._tag, "LockHeld")
        assert.include(error.message, "on host elsewhere.example since 2026-01-01T00:00:00.000Z")
      })
    )
  )

  it.live("takes over a lock whose pid is no longer running on this host, and says so", () =>
    inDir((database) =>
      Effect.gen(function* () {
        yield* Effect.scoped(acquire(options(database)))
        const pid = deadPid()
        writeHolder(database, { pid, host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" })
        const reported = yield* Ref.make<ReadonlyArray<StaleLock>>([])
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* acquire(options(database, { onTakeover: (s) => Ref.update(reported, (all) => [...all, s]) }))
            assert.strictEqual(readLock(database)["pid"], process.pid)
          })
        )
        const [stale] = yield* Ref.get(reported)
        assert.strictEqual(stale?.holder?.pid, pid)
        assert.strictEqual(stale?.reason, `pid ${pid} is no longer running on this host`)
        assert.isFalse(existsSync(`${database}.lock`))
        assert.isFalse(existsSync(`${database}.lock.takeover`))
      })
    )
  )

  it.live("treats an unreadable lock file as held while young and as stale once old", () =>
    inDir((database) =>
      Effect.gen(function* () {
        yield* Effect.scoped(acquire(options(database)))
        writeFileSync(`${database}.lock`, '{"pid": 12') // cut off while being written
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
    )
  )

  it.live("of several racing takeovers of one stale lock, exactly one wins", () =>
    inDir((database) =>
      Effect.gen(function* () {
        yield* Effect.scoped(acquire(options(database)))
        const pid = deadPid()
        for (let round = 0; round < 10; round++) {
          writeHolder(database, { pid, host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" })
          // A winner holds the lock until every attempt has ended, so a second winner would hold it at the same time.
          const ended = yield* Ref.make(0)
          const allEnded = yield* Deferred.make<void>()
          const end = Ref.updateAndGet(ended, (n) => n + 1).pipe(Effect.flatMap((n) => (n === 12 ? Deferred.succeed(allEnded, undefined) : Effect.void)))
          const results = yield* Effect.all(
            Array.from({ length: 12 }, (_, i) =>
              Effect.result(
                Effect.scoped(
                  Effect.sleep(`${i % 3} millis`).pipe(
                    Effect.andThen(acquire(options(database))),
                    Effect.onExit(() => end),
                    Effect.andThen(Deferred.await(allEnded))
                  )
                )
              )
            ),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(results.filter((r) => r._tag === "Success").length, 1, `round ${round}`)
          assert.isFalse(existsSync(`${database}.lock`))
        }
      })
    )
  )

  it.live("does not take over while another process holds the takeover guard, but clears a guard left long ago", () =>
    inDir((database) =>
      Effect.gen(function* () {
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
    )
  )

  it.live("clears at once a takeover guard left by a process that died in the middle of a takeover", () =>
    inDir((database) =>
      Effect.gen(function* () {
        yield* Effect.scoped(acquire(options(database)))
        const dead = { pid: deadPid(), host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" }
        writeHolder(database, dead)
        writeFileSync(`${database}.lock.takeover`, JSON.stringify(dead))
        yield* Effect.scoped(acquire(options(database)))
        assert.isFalse(existsSync(`${database}.lock.takeover`))
        assert.isFalse(existsSync(`${database}.lock`))
      })
    )
  )

  it.live("releases the lock when the work fails", () =>
    inDir((database) =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(Effect.fail("boom").pipe(withLock(options(database))))
        assert.isTrue(Exit.isFailure(exit))
        assert.isFalse(existsSync(`${database}.lock`))
      })
    )
  )

  it.live("releases the lock when the work is interrupted", () =>
    inDir((database) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(Effect.never.pipe(withLock(options(database))))
        while (!existsSync(`${database}.lock`)) yield* Effect.sleep("5 millis")
        yield* Fiber.interrupt(fiber)
        assert.isFalse(existsSync(`${database}.lock`))
      })
    )
  )

  it.live("leaves a lock that is no longer ours in place on release", () =>
    inDir((database) =>
      Effect.gen(function* () {
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* acquire(options(database))
            writeHolder(database, { pid: 1, host: "elsewhere.example", started_at: "2026-01-01T00:00:00.000Z", command: "other" })
          })
        )
        assert.strictEqual(readLock(database)["host"], "elsewhere.example")
      })
    )
  )

  it.live("with wait, says once that it waits and takes the lock when it is released", () =>
    inDir((database) =>
      Effect.gen(function* () {
        const waited = yield* Ref.make(0)
        const first = yield* Effect.forkChild(Effect.sleep("300 millis").pipe(withLock(options(database))))
        while (!existsSync(`${database}.lock`)) yield* Effect.sleep("5 millis")
        const started = Date.now()
        const second = yield* Effect.scoped(
          Effect.gen(function* () {
            const lock = yield* acquire(options(database, { wait: true, pollEvery: "50 millis", onWaiting: () => Ref.update(waited, (n) => n + 1) }))
            return lock?.holder.started_at
          })
        )
        assert.isDefined(second)
        assert.isAtLeast(Date.now() - started, 150)
        assert.strictEqual(yield* Ref.get(waited), 1)
        yield* Fiber.join(first)
      })
    )
  )

  it.live("needs no lock for an in-memory database", () =>
    Effect.gen(function* () {
      const lock = yield* Effect.scoped(acquire(options(":memory:")))
      assert.isUndefined(lock)
    }).pipe(Effect.provide(NodeServices.layer))
  )

  it("parses /proc/<pid>/stat after the last parenthesis, whatever the command name holds", () => {
    const tail = "S 1 2 3 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615"
    assert.deepStrictEqual(parseProcStat(`42 (sleep) ${tail}`), { state: "S", startTicks: 98765 })
    assert.deepStrictEqual(parseProcStat(`42 (a) Z 1 (b c) ${tail}`), { state: "S", startTicks: 98765 })
    assert.isUndefined(parseProcStat("42 (cut off"))
    assert.isUndefined(parseProcStat("42 (x) S 1"))
  })

  // The process start time, boot id and zombie state come from /proc; without it only the pid counts.
  describe.skipIf(!hasProc)("holders told apart by /proc (Linux; skipped where /proc/self/stat does not exist)", () => {
    const holder = (pid: number, more: Record<string, unknown> = {}) => ({
      pid,
      host: hostname(),
      started_at: "2026-01-01T00:00:00.000Z",
      command: "medallion apply",
      ...more
    })
    /** Takes the lock over the holder written to the lock file; the takeovers reported. */
    const takeOver = (database: string) =>
      Effect.gen(function* () {
        const reported = yield* Ref.make<ReadonlyArray<StaleLock>>([])
        yield* Effect.scoped(acquire(options(database, { onTakeover: (s) => Ref.update(reported, (all) => [...all, s]) })))
        assert.isFalse(existsSync(`${database}.lock`))
        return yield* Ref.get(reported)
      })
    const withProcess = <A, E, R>(start: () => { readonly pid: number; readonly stop: () => void }, body: (pid: number) => Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(
        Effect.sync(start),
        (p) => body(p.pid),
        (p) => Effect.sync(p.stop)
      )
    const running = () => {
      const child = sleeper()
      return { pid: child.pid!, stop: () => child.kill("SIGKILL") }
    }

    it.live("takes over a lock whose pid now belongs to a process that started at another time", () =>
      inDir((database) =>
        withProcess(running, (pid) =>
          Effect.gen(function* () {
            yield* Effect.scoped(acquire(options(database)))
            const ticks = procStat(pid)!.startTicks
            writeHolder(database, holder(pid, { start_ticks: ticks - 1, boot_id: bootId() }))
            const [stale] = yield* takeOver(database)
            assert.strictEqual(stale?.reason, `pid ${pid} now belongs to another process (started ${ticks} clock ticks after boot; the holder started at ${ticks - 1})`)
          })
        )
      )
    )

    it.live("takes over a lock taken before the host restarted", () =>
      inDir((database) =>
        Effect.gen(function* () {
          yield* Effect.scoped(acquire(options(database)))
          // Our own pid runs, with the start time the holder recorded: only the boot id tells them apart.
          writeHolder(database, holder(process.pid, { start_ticks: procStat(process.pid)!.startTicks, boot_id: "00000000-0000-0000-0000-000000000000" }))
          const [stale] = yield* takeOver(database)
          assert.strictEqual(stale?.reason, `the host has restarted since pid ${process.pid} took it (boot id 00000000-0000-0000-0000-000000000000, now ${bootId()})`)
        })
      )
    )

    it.live("takes over a lock whose holder is a zombie: killed, not yet reaped", () =>
      inDir((database) =>
        Effect.acquireUseRelease(
          Effect.promise(unreapedChild),
          (child) =>
            Effect.gen(function* () {
              yield* Effect.scoped(acquire(options(database)))
              const ticks = procStat(child.pid)!.startTicks
              yield* Effect.promise(child.zombify)
              assert.isTrue(isRunning(child.pid), "a zombie still answers signal 0")
              writeHolder(database, holder(child.pid, { start_ticks: ticks, boot_id: bootId() }))
              const [stale] = yield* takeOver(database)
              assert.strictEqual(stale?.reason, `pid ${child.pid} has exited (a zombie its parent has not reaped yet)`)
            }),
          (child) => Effect.sync(child.stop)
        )
      )
    )

    it.live("does not take over a live holder with its own start time, even when its name holds parentheses", () =>
      inDir((database) => {
        // A command name like "a) Z 1 (b" reads as a zombie to a parser that stops at the first ")".
        const odd = () => {
          const link = join(dirname(dirname(database)), "a) Z 1 (b")
          symlinkSync(spawnSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).stdout.trim(), link)
          const child = sleeper(link)
          return { pid: child.pid!, stop: () => child.kill("SIGKILL") }
        }
        return withProcess(odd, (pid) =>
          Effect.gen(function* () {
            yield* Effect.scoped(acquire(options(database)))
            while (procStat(pid)?.name !== "a) Z 1 (b") yield* Effect.sleep("5 millis") // until it has exec'd
            for (const record of [holder(pid, { start_ticks: procStat(pid)!.startTicks, boot_id: bootId() }), holder(pid)]) {
              writeHolder(database, record)
              const error = yield* Effect.flip(Effect.scoped(acquire(options(database))))
              assert.strictEqual(error._tag, "LockHeld", JSON.stringify(record))
              assert.strictEqual((error as LockHeld).holder?.pid, pid)
            }
          })
        )
      })
    )

    it.live("with wait, takes the lock once its holder becomes a zombie", () =>
      inDir((database) =>
        Effect.acquireUseRelease(
          Effect.promise(unreapedChild),
          (child) =>
            Effect.gen(function* () {
              yield* Effect.scoped(acquire(options(database)))
              writeHolder(database, holder(child.pid, { start_ticks: procStat(child.pid)!.startTicks, boot_id: bootId() }))
              const waiting = yield* Deferred.make<void>()
              const reported = yield* Ref.make<ReadonlyArray<StaleLock>>([])
              const fiber = yield* Effect.forkChild(
                Effect.scoped(
                  acquire(
                    options(database, {
                      wait: true,
                      pollEvery: "20 millis",
                      onWaiting: () => Deferred.succeed(waiting, undefined),
                      onTakeover: (s) => Ref.update(reported, (all) => [...all, s])
                    })
                  )
                )
              )
              yield* Deferred.await(waiting)
              yield* Effect.promise(child.zombify)
              yield* Fiber.join(fiber)
              const [stale] = yield* Ref.get(reported)
              assert.strictEqual(stale?.reason, `pid ${child.pid} has exited (a zombie its parent has not reaped yet)`)
            }),
          (child) => Effect.sync(child.stop)
        )
      )
    )
  })
})
