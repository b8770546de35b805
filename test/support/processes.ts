/**
 * Test support: real processes in the states a lock holder can be in (running, a zombie nobody
 * reaps) and what Linux's /proc says of them. Read here independently of src/runtime/Lock.ts.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { cliArgs } from "./project.ts"

/** Whether this system has /proc with per-process stat files (Linux); elsewhere the tests using it are skipped. */
export const hasProc = existsSync("/proc/self/stat")

/** Name, state, parent and start time (clock ticks since boot) of a process, or undefined once it is gone. */
export const procStat = (pid: number) => {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  const close = text.lastIndexOf(")")
  const fields = text.slice(close + 2).split(" ")
  return { name: text.slice(text.indexOf("(") + 1, close), state: fields[0], ppid: Number(fields[1]), startTicks: Number(fields[19]) }
}

export const bootId = (): string => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()

export const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A process that runs until killed: `sleep`, or another name for it (a symlink to it). */
export const sleeper = (command = "sleep"): ChildProcess => spawn(command, ["1000"], { stdio: "ignore" })

/**
 * A process whose parent never reaps it: `sh` starts `sleep` in the background and then becomes
 * `sleep` itself, which ignores its children. Killed with `zombify`, the child stays a zombie
 * (state Z) until `stop` ends its parent.
 */
export const unreapedChild = async () => {
  const parent = spawn("sh", ["-c", "sleep 1000 & exec sleep 1000"], { stdio: "ignore" })
  let pid: number | undefined
  // Once sh is `sleep`, nothing reaps the child; before, sh itself might.
  await until("sh to start its child and become sleep", () => {
    if (procStat(parent.pid!)?.name !== "sleep") return false
    pid = readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .find((candidate) => procStat(candidate)?.ppid === parent.pid && procStat(candidate)?.state !== "Z")
    return pid !== undefined
  })
  const child = pid!
  return {
    pid: child,
    /** Kills the child and waits for /proc to show it as a zombie. */
    zombify: async () => {
      process.kill(child, "SIGKILL")
      await until(`pid ${child} to become a zombie`, () => procStat(child)?.state === "Z")
    },
    stop: () => parent.kill("SIGKILL")
  }
}

/**
 * A pipeline whose only table takes minutes of DuckDB work (on one thread): an apply of it holds
 * the warehouse until a test ends it.
 */
export const endlessPipeline = `
version: 1
pipeline: slow
gold:
  total:
    sql: select sum(a.range * b.range) as s from range(200000) a, range(200000) b
`

/** A pipeline that finishes at once, to run beside endlessPipeline. */
export const instantPipeline = `
version: 1
pipeline: fast
gold:
  one:
    sql: select 1 as n
`

export interface Finished {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  /** When it ended (epoch ms), to tell which of two ended first. */
  readonly at: number
}

/**
 * Starts the CLI as a child process in `cwd` without waiting for it (Node or Deno, like `cli`),
 * added to `started` so that a test's cleanup can kill what a failed test left running.
 */
export const startCli = (started: Array<ChildProcess>, cwd: string, args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, cliArgs(args), { cwd, env: { ...process.env, NO_COLOR: "1" } })
  started.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<Finished>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, at: Date.now() })))
  return { child, done, output: () => ({ stdout, stderr }) }
}
