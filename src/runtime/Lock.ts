/**
 * The warehouse lock: one writer per DuckDB file. `<database>.lock` holds `{pid, host,
 * started_at, command}` and, on Linux, what tells this process apart from a later one with the
 * same pid: `start_ticks` (its start time, field 22 of /proc/<pid>/stat) and `boot_id`. It is
 * written to a private file first and hard-linked into place, which fails if the name exists: of
 * two racing processes exactly one wins, and the lock file never exists half-written, even when
 * its writer is killed. It is removed when the scope closes, whether the run succeeded, failed or
 * was interrupted.
 *
 * A lock left by a crashed run is taken over: its holder is on this host and is gone (the host has
 * restarted since, its pid is no longer running, is a zombie not yet reaped, or now belongs to a
 * process that started at another time), or the file is unreadable (damaged from outside) and
 * older than `corruptAfter` (a young one may still come from an older version that wrote the file
 * in place). Without /proc (macOS, Windows), and for lock files written before `start_ticks`, a
 * running pid is taken to be the holder. A holder on another host is never stale: its pid means
 * nothing here. A takeover happens under a second exclusive file, `<lock>.takeover`, and only if
 * the lock file still has the content that was judged stale, so two processes taking over the
 * same stale lock cannot both win.
 */
import { hostname } from "node:os"
import { Clock, Duration, Effect, FileSystem, Option, Path, type PlatformError, Random, Schedule, Schema, type Scope } from "effect"
import { ExecutorError } from "../executor/Executor.ts"

export const Holder = Schema.Struct({
  pid: Schema.Int.check(Schema.isGreaterThan(0)),
  host: Schema.String,
  started_at: Schema.String,
  command: Schema.String,
  /** Linux: the holder's start time in clock ticks since boot, field 22 of /proc/<pid>/stat. */
  start_ticks: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Linux: /proc/sys/kernel/random/boot_id when the lock was taken; another one means a reboot since. */
  boot_id: Schema.optional(Schema.String)
})
export type Holder = typeof Holder.Type

const decodeHolder = Schema.decodeUnknownOption(Schema.fromJsonString(Holder))

/** Another process holds the warehouse (or is writing its lock file: `holder` is then unknown). */
export class LockHeld extends Schema.TaggedError<LockHeld>()("LockHeld", {
  database: Schema.String,
  lockFile: Schema.String,
  holder: Schema.optional(Holder),
  /** Met by a command that only reads (plan, runs, show), which has no --wait. */
  reading: Schema.optional(Schema.Boolean)
}) {
  get holderText(): string {
    const h = this.holder
    return h === undefined
      ? `another process (its lock file ${this.lockFile} is being written or is unreadable)`
      : `pid ${h.pid} on host ${h.host} since ${h.started_at} (${h.command})`
  }
  override get message(): string {
    // A server holds the warehouse until it stops: waiting would not end, its API runs pipelines.
    const served = this.holder?.command.startsWith("medallion serve") === true
    const advice =
      this.reading === true
        ? served
          ? "a server owns it: read runs and gold through its API (GET /runs, GET /gold), or stop the server"
          : "try again when it has finished"
        : served
          ? "a server owns it: start runs through its API (POST /pipelines/<name>/runs), or stop the server"
          : "wait for it to finish, or run with --wait"
    return `the warehouse ${this.database} is in use by ${this.holderText}; ${advice}`
  }
}

/** The lock file could not be created, read or removed for a reason other than another holder. */
export class LockError extends Schema.TaggedError<LockError>()("LockError", {
  lockFile: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot lock the warehouse: ${this.reason} (${this.lockFile})`
  }
}

/** A stale lock that was removed and replaced by ours. */
export interface StaleLock {
  readonly lockFile: string
  readonly holder: Holder | undefined
  readonly reason: string
}

/** The lock we hold. */
export interface Lock {
  readonly lockFile: string
  readonly holder: Holder
}

export interface LockOptions {
  /** The DuckDB file; the lock is `<database>.lock`. ":memory:" needs no lock. */
  readonly database: string
  /** Who is locking, for the holder's record and others' messages, e.g. "medallion apply". */
  readonly command: string
  /** Poll until the lock is free instead of failing with LockHeld. */
  readonly wait?: boolean | undefined
  readonly pollEvery?: Duration.Input | undefined
  /** How old an unreadable lock file must be to count as stale (default 10 s). */
  readonly corruptAfter?: Duration.Input | undefined
  /** Called once, when --wait starts waiting. */
  readonly onWaiting?: ((held: LockHeld) => Effect.Effect<void>) | undefined
  /** Called after a stale lock was taken over. */
  readonly onTakeover?: ((stale: StaleLock) => Effect.Effect<void>) | undefined
}

/** Whether a pid runs on this host: signal 0 checks without signalling; only ESRCH means gone. */
export const isRunning = (pid: number): boolean => {
  try {
    globalThis.process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { readonly code?: unknown }).code !== "ESRCH" // EPERM: it runs, as another user
  }
}

/** What /proc/<pid>/stat says of a process: its state (`R`, `S`, `Z` for a zombie, ...) and start time. */
export interface ProcStat {
  readonly state: string
  readonly startTicks: number
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold spaces
 * and parentheses, so the fields are counted from the text after the last ")": state is field 3,
 * the start time field 22.
 */
export const parseProcStat = (text: string): ProcStat | undefined => {
  const close = text.lastIndexOf(")")
  if (close < 0) return undefined
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/)
  const state = fields[0]
  const startTicks = Number(fields[19])
  return state === undefined || state === "" || !Number.isSafeInteger(startTicks) ? undefined : { state, startTicks }
}

type Seen =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Held"; readonly text: string; readonly holder: Holder }
  | { readonly _tag: "Corrupt"; readonly text: string; readonly ageMillis: number }

const isSystemError = (error: PlatformError.PlatformError, tag: PlatformError.SystemErrorTag) => error.reason._tag === tag

// A takeover takes milliseconds; a guard older than this was left by a process that died in it.
const guardStaleAfter = Duration.seconds(10)
const rounds = 20

const make = Effect.fnUntraced(function* (options: LockOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const database = options.database
  const lockFile = `${database}.lock`
  const guardFile = `${lockFile}.takeover`
  const host = hostname()
  const corruptAfter = Duration.toMillis(Duration.fromInputUnsafe(options.corruptAfter ?? "10 seconds"))
  const fail = (what: string) => (error: PlatformError.PlatformError) => new LockError({ lockFile, reason: `cannot ${what}: ${error.message}` })

  yield* fs.makeDirectory(path.dirname(lockFile), { recursive: true }).pipe(Effect.mapError(fail("create its directory")))

  /** What /proc/<pid>/stat says of a process; undefined without /proc (macOS, Windows) or when it cannot be read. */
  const processStat = (pid: number) =>
    fs.readFileString(`/proc/${pid}/stat`).pipe(
      Effect.map(parseProcStat),
      Effect.orElseSucceed(() => undefined)
    )
  const self = yield* processStat(globalThis.process.pid)
  const bootId = yield* fs.readFileString("/proc/sys/kernel/random/boot_id").pipe(
    Effect.map((text) => text.trim() || undefined),
    Effect.orElseSucceed(() => undefined)
  )

  /** Why the holder is gone, or undefined while it may still run (or runs on another host). */
  const goneReason = (holder: Holder) =>
    Effect.gen(function* () {
      if (holder.host !== host) return undefined
      if (holder.boot_id !== undefined && bootId !== undefined && holder.boot_id !== bootId) {
        return `the host has restarted since pid ${holder.pid} took it (boot id ${holder.boot_id}, now ${bootId})`
      }
      if (!isRunning(holder.pid)) return `pid ${holder.pid} is no longer running on this host`
      // Unreadable (no /proc, or processes of other users hidden): the pid runs, so it holds the lock.
      const stat = yield* processStat(holder.pid)
      if (stat === undefined) return undefined
      if (stat.state === "Z" || stat.state === "X") return `pid ${holder.pid} has exited (a zombie its parent has not reaped yet)`
      if (holder.start_ticks !== undefined && stat.startTicks !== holder.start_ticks) {
        return `pid ${holder.pid} now belongs to another process (started ${stat.startTicks} clock ticks after boot; the holder started at ${holder.start_ticks})`
      }
      return undefined
    })

  /** Creates `file` with `text`, complete, unless it exists: true if we created it. */
  const create = (file: string, text: string) =>
    Effect.gen(function* () {
      const draft = `${file}.${globalThis.process.pid}-${yield* Random.nextIntBetween(0, 0xffffffff)}.tmp`
      yield* fs.writeFileString(draft, text, { flag: "wx" })
      return yield* fs.link(draft, file).pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => isSystemError(e, "AlreadyExists"),
          () => Effect.succeed(false)
        ),
        Effect.ensuring(Effect.ignore(fs.remove(draft)))
      )
    }).pipe(Effect.mapError(fail("create the lock file")))

  const readText = (file: string) =>
    fs.readFileString(file).pipe(
      Effect.map(Option.some),
      Effect.catchIf(
        (e) => isSystemError(e, "NotFound"),
        () => Effect.succeed(Option.none<string>())
      ),
      Effect.mapError(fail("read the lock file"))
    )

  const ageMillis = (file: string) =>
    Effect.gen(function* () {
      const info = yield* fs.stat(file).pipe(Effect.option)
      const now = yield* Clock.currentTimeMillis
      return Option.match(
        Option.flatMap(info, (i) => i.mtime),
        { onNone: () => 0, onSome: (mtime) => now - mtime.getTime() }
      )
    })

  const removeIfPresent = (file: string) =>
    fs.remove(file).pipe(
      Effect.catchIf(
        (e) => isSystemError(e, "NotFound"),
        () => Effect.void
      ),
      Effect.mapError(fail("remove the stale lock file"))
    )

  const look = Effect.gen(function* () {
    const text = yield* readText(lockFile)
    if (Option.isNone(text)) return { _tag: "Missing" } as const
    const holder = decodeHolder(text.value)
    if (Option.isSome(holder)) return { _tag: "Held", text: text.value, holder: holder.value } as const
    return { _tag: "Corrupt", text: text.value, ageMillis: yield* ageMillis(lockFile) } as const
  })

  const staleReason = (seen: Seen): Effect.Effect<string | undefined> => {
    if (seen._tag === "Held") return goneReason(seen.holder)
    if (seen._tag === "Corrupt") {
      return Effect.succeed(seen.ageMillis >= corruptAfter ? `the lock file is unreadable and ${Math.round(seen.ageMillis / 1000)} s old` : undefined)
    }
    return Effect.succeed(undefined)
  }

  const held = (seen: Seen) => new LockHeld({ database, lockFile, ...(seen._tag === "Held" ? { holder: seen.holder } : {}) })

  /** Replaces the lock `seen` was read from, if it is still that lock, holding the guard. */
  const takeOver = (seen: Seen, ours: string) =>
    Effect.scoped(
      Effect.gen(function* () {
        const guarded = yield* Effect.acquireRelease(create(guardFile, ours), (created) => (created ? Effect.ignore(fs.remove(guardFile)) : Effect.void))
        if (!guarded) {
          // The guard names its holder too: one left by a process that died mid-takeover is stale at once.
          const guard = Option.flatMap(yield* readText(guardFile), decodeHolder)
          const deadHolder = Option.isSome(guard) && (yield* goneReason(guard.value)) !== undefined
          if (deadHolder || (yield* ageMillis(guardFile)) >= Duration.toMillis(guardStaleAfter)) yield* Effect.ignore(fs.remove(guardFile))
          return "busy" as const
        }
        const now = yield* readText(lockFile)
        if (seen._tag === "Missing" || Option.getOrUndefined(now) !== seen.text) return "changed" as const
        yield* removeIfPresent(lockFile)
        return (yield* create(lockFile, ours)) ? ("acquired" as const) : ("changed" as const)
      })
    )

  /** One try: create the lock, or take over a stale one; fails with LockHeld if it is held. */
  const attempt = Effect.gen(function* () {
    let seen: Seen = { _tag: "Missing" }
    for (let round = 0; round < rounds; round++) {
      const holder: Holder = {
        pid: globalThis.process.pid,
        host,
        started_at: new Date(yield* Clock.currentTimeMillis).toISOString(),
        command: options.command,
        ...(self === undefined ? {} : { start_ticks: self.startTicks }),
        ...(bootId === undefined ? {} : { boot_id: bootId })
      }
      const ours = JSON.stringify(holder)
      if (yield* create(lockFile, ours)) return { lock: { lockFile, holder }, text: ours }
      seen = yield* look
      if (seen._tag === "Missing") continue // released between our create and our read
      const reason = yield* staleReason(seen)
      if (reason === undefined) return yield* held(seen)
      const outcome = yield* takeOver(seen, ours)
      if (outcome === "acquired") {
        if (options.onTakeover) yield* options.onTakeover({ lockFile, holder: seen._tag === "Held" ? seen.holder : undefined, reason })
        return { lock: { lockFile, holder }, text: ours }
      }
      if (outcome === "busy") yield* Effect.sleep("25 millis") // another process is taking it over
    }
    return yield* held(seen)
  })

  const release = (text: string) =>
    Effect.gen(function* () {
      // Only our own lock: never remove one a later holder wrote.
      const now = yield* readText(lockFile)
      if (Option.getOrUndefined(now) === text) yield* fs.remove(lockFile)
    }).pipe(Effect.ignore)

  const acquireOnce = Effect.acquireRelease(attempt, ({ text }) => release(text))
  if (!options.wait) return (yield* acquireOnce).lock

  const acquired = yield* acquireOnce.pipe(
    Effect.catchTag("LockHeld", (error) =>
      (options.onWaiting ? options.onWaiting(error) : Effect.void).pipe(
        Effect.andThen(
          acquireOnce.pipe(
            Effect.retry({
              schedule: Schedule.spaced(options.pollEvery ?? "500 millis"),
              while: (e) => e._tag === "LockHeld"
            })
          )
        )
      )
    )
  )
  return acquired.lock
})

/**
 * Takes the warehouse lock for the current scope; it is released when the scope closes.
 * Succeeds with undefined for an in-memory database, which no other process can open.
 */
export const acquire = (options: LockOptions): Effect.Effect<Lock | undefined, LockHeld | LockError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  options.database === ":memory:" ? Effect.succeed(undefined) : make(options)

/** Runs `effect` holding the warehouse lock. */
export const withLock =
  (options: LockOptions) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LockHeld | LockError, FileSystem.FileSystem | Path.Path | Exclude<R, Scope.Scope>> =>
    Effect.scoped(Effect.andThen(acquire(options), effect))

/** DuckDB's refusal to open a file another process has open. */
export const isBusy = (error: unknown): error is ExecutorError => error instanceof ExecutorError && /Could not set lock on file/i.test(error.message)

/** Who holds the warehouse, from its lock file, for a command that only reads it (plan, runs, show). */
export const heldBy = (database: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const lockFile = `${database}.lock`
    const text = yield* fs.readFileString(lockFile).pipe(Effect.option)
    const holder = Option.getOrUndefined(Option.flatMap(text, decodeHolder))
    return new LockHeld({ database, lockFile, holder, reading: true })
  })
