/**
 * What `apply` shows while it works. On a terminal: a status line on stderr, redrawn four times a
 * second, naming the tables running, each one's statement and its time; the per-table result lines
 * print above it. Elsewhere (a log, CI): a plain line on
 * stderr for a statement still running after 30 s, and every 30 s after. Under --json: nothing.
 * On Ctrl-C or SIGTERM it says at once that the run is being cancelled and what it waits for.
 */
import { Console, Effect, Schedule } from "effect"
import type { Activity } from "../executor/Executor.ts"

export interface Running {
  /** Tables started and not finished, with when each started (epoch ms). */
  readonly tables: ReadonlyMap<string, number>
  readonly activity: ReadonlyArray<Activity>
}

const seconds = (ms: number) => {
  const s = Math.max(0, ms) / 1000
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`
}

/** One table's part: its statement and how long that has run, or the table's own time. */
const part = (table: string, since: number, activity: ReadonlyArray<Activity>, now: number) => {
  const statement = activity.find((a) => a.table === table)
  return statement === undefined ? `${table} ${seconds(now - since)}` : `${table} ${statement.statement} ${seconds(now - statement.since)}`
}

/** The status line: what runs now, cut to the terminal's width. */
export const statusLine = (running: Running, now: number, width: number) => {
  const parts = [...running.tables].map(([table, since]) => part(table, since, running.activity, now))
  const line = parts.length === 0 ? "working" : `running ${parts.join(" · ")}`
  return line.length < width ? line : `${line.slice(0, Math.max(0, width - 2))}…`
}

/** What a cancellation waits for: the statements to stop (rolled back), or only the run's bookkeeping. */
export const cancellingLine = (signal: string, running: Running, now: number) => {
  const waiting = [...running.tables].map(([table, since]) => part(table, since, running.activity, now))
  return waiting.length === 0
    ? `cancelling (${signal}): recording the run as cancelled`
    : `cancelling (${signal}): stopping ${waiting.join(", ")}; what they were writing is rolled back, nothing half-written is published`
}

/** The plain lines for statements that have run 30 s or more, once per 30 s each. */
export const heartbeats = (running: Running, now: number, printed: Map<string, number>) =>
  running.activity.flatMap((a) => {
    const step = Math.floor((now - a.since) / 30_000)
    const key = `${a.table ?? ""}\u0000${a.since}`
    if (step < 1 || (printed.get(key) ?? 0) >= step) return []
    printed.set(key, step)
    return [`  ...   ${part(a.table ?? "(warehouse)", a.since, [a], now)}`]
  })

interface Terminal {
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
  readonly write: (text: string) => unknown
}

/**
 * The progress of one apply: `onTableStart` and `onTable` to pass to the run, and `around` to wrap
 * it (the redraw and the signal listeners live as long as the run).
 */
export const makeProgress = (options: { readonly json: boolean; readonly activity: Effect.Effect<ReadonlyArray<Activity>> | undefined }) => {
  const err = globalThis.process.stderr as Terminal
  const tty = !options.json && err.isTTY === true
  const tables = new Map<string, number>()
  const snapshot = (): Running => ({ tables: new Map(tables), activity: options.activity === undefined ? [] : Effect.runSync(options.activity) })
  // What ran at the last tick: where a signal's listeners run after the runtime's own (Deno), the
  // run is already stopping when ours runs, and only cleanup would show.
  let lastSeen: Running | undefined
  const seen = () => {
    lastSeen = snapshot()
    return lastSeen
  }
  let shown = false
  const clear = () => {
    if (shown) err.write("\r\u001b[2K")
    shown = false
  }
  const draw = Effect.sync(() => {
    err.write(`\r\u001b[2K${statusLine(seen(), Date.now(), (err.columns || 80) - 1)}`)
    shown = true
  })
  const printed = new Map<string, number>()
  const beat = Effect.suspend(() => Effect.forEach(heartbeats(seen(), Date.now(), printed), Console.error, { discard: true }))
  const ticker = options.json ? Effect.never : tty ? Effect.repeat(draw, Schedule.spaced("250 millis")) : Effect.repeat(beat, Schedule.spaced("1 second"))
  const onSignal = (signal: string) => () => {
    if (options.json) return
    clear()
    err.write(`${cancellingLine(signal, lastSeen ?? snapshot(), Date.now())}\n`)
  }
  const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => [signal, onSignal(signal)] as const)
  return {
    onTableStart: (table: string) => Effect.sync(() => void tables.set(table, Date.now())),
    onTable: (line: string, table: string) =>
      Effect.andThen(
        Effect.sync(() => {
          tables.delete(table)
          clear()
        }),
        options.json ? Effect.void : Console.log(line)
      ),
    around: <A, E, R>(run: Effect.Effect<A, E, R>) =>
      Effect.scoped(
        Effect.gen(function* () {
          // Ahead of the runtime's own listener, which interrupts the run: what runs is seen before it stops.
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              for (const [signal, listener] of listeners) globalThis.process.prependListener(signal, listener)
            }),
            () =>
              Effect.sync(() => {
                for (const [signal, listener] of listeners) globalThis.process.removeListener(signal, listener)
                clear()
              })
          )
          yield* Effect.forkScoped(ticker)
          return yield* run
        })
      )
  }
}
