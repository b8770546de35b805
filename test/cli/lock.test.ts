/** Two applies on one warehouse, as real processes: the second fails at once, or waits with --wait. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { dirname, join } from "node:path"
import { describe, it } from "@effect/vitest"
import { afterAll, assert } from "vitest"
import { bootId, endlessPipeline, hasProc, instantPipeline, procStat, sleeper, startCli, until as waitUntil } from "../support/processes.ts"
import { cli, cliArgs, makeProject } from "../support/project.ts"

const slow = endlessPipeline
const fast = instantPipeline

const started: Array<ChildProcess> = []
const start = (cwd: string, args: ReadonlyArray<string>) => startCli(started, cwd, args)
const until = (what: string, check: () => boolean) => waitUntil(what, check, 60_000)

describe("medallion apply: two applies at once", () => {
  const project = makeProject({ "pipelines/slow.yaml": slow, "pipelines/fast.yaml": fast, "config/default.yaml": "duckdb: { threads: 1 }\n" })
  const lockFile = join(project.dir, ".medallion", "warehouse.duckdb.lock")
  afterAll(() => {
    // The slow apply runs for minutes: end any a failed test left running.
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    project.remove()
  })

  it("fails a second apply at once naming the holder, and lets one with --wait run once the first has ended", async () => {
    const first = start(project.dir, ["apply", "pipelines/slow.yaml"])
    await until("the first apply to take the lock", () => existsSync(lockFile) || first.child.exitCode !== null)
    assert.isNull(first.child.exitCode, `the first apply ended early: ${first.output().stderr}`)

    const second = cli(project.dir, ["apply", "pipelines/fast.yaml"])
    assert.strictEqual(second.code, 1, second.stderr)
    assert.match(
      second.stderr,
      new RegExp(
        `error: the warehouse \\S+warehouse\\.duckdb is in use by pid ${first.child.pid} on host \\S+ since \\S+ \\(medallion apply\\); wait for it to finish, or run with --wait`
      )
    )
    // At once: the first apply is still running.
    assert.isNull(first.child.exitCode, "the second apply waited for the first")

    // A reader (runs, show, plan) takes no lock: the apply answers it (test/cli/readers.test.ts).
    const reader = cli(project.dir, ["runs"])
    assert.strictEqual(reader.code, 0, reader.stderr)
    assert.match(reader.stdout, /running +\S+ .* slow\n/)

    const waiting = start(project.dir, ["apply", "pipelines/fast.yaml", "--wait"])
    await until("the waiting apply to say so", () => waiting.output().stderr.includes("waiting") || waiting.child.exitCode !== null)
    process.kill(first.child.pid!, "SIGINT")
    const [firstDone, waitingDone] = await Promise.all([first.done, waiting.done])
    assert.strictEqual(firstDone.code, 130, firstDone.stderr)
    assert.strictEqual(waitingDone.code, 0, waitingDone.stderr)
    assert.match(waitingDone.stderr, new RegExp(`^waiting: the warehouse \\S+ is in use by pid ${first.child.pid} on host .*; checking every 0\\.5 s\\n$`))
    assert.match(waitingDone.stdout, /run succeeded: 1 succeeded/)
    assert.isAbove(waitingDone.at, firstDone.at)
    assert.isFalse(existsSync(lockFile))
  }, 120_000)

  it("releases the lock when an apply is interrupted", async () => {
    const first = start(project.dir, ["apply", "pipelines/slow.yaml"])
    await until("the apply to take the lock", () => existsSync(lockFile) || first.child.exitCode !== null)
    // Not child.kill: after it, Deno's child_process reports the signal instead of the exit code (130).
    process.kill(first.child.pid!, "SIGINT")
    const done = await first.done
    assert.strictEqual(done.code, 130, done.stderr)
    assert.isFalse(existsSync(lockFile))
  }, 60_000)

  it("takes over a lock left by a process that is gone", () => {
    const gone = spawnSync(process.execPath, ["--version"]).pid!
    writeFileSync(lockFile, JSON.stringify({ pid: gone, host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply" }))
    const result = cli(project.dir, ["apply", "pipelines/fast.yaml"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stderr, `took over a stale lock ${lockFile}: pid ${gone} is no longer running on this host`)
    assert.isFalse(existsSync(lockFile))
  })

  // Process start times and zombies are read from /proc (Linux); skipped where /proc/self/stat does not exist.
  it.skipIf(!hasProc)(
    "with --wait, takes over at once a lock whose pid now belongs to another process",
    () => {
      const other = sleeper()
      try {
        const ticks = procStat(other.pid!)!.startTicks
        mkdirSync(dirname(lockFile), { recursive: true })
        writeFileSync(
          lockFile,
          JSON.stringify({ pid: other.pid, host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "medallion apply", start_ticks: ticks + 1, boot_id: bootId() })
        )
        const result = cli(project.dir, ["apply", "pipelines/fast.yaml", "--wait"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.include(result.stderr, `took over a stale lock ${lockFile}: pid ${other.pid} now belongs to another process`)
        assert.notInclude(result.stderr, "waiting")
        assert.isFalse(existsSync(lockFile))
      } finally {
        other.kill("SIGKILL")
      }
    },
    150_000
  )

  it.skipIf(!hasProc)(
    "takes over the lock of an apply killed with SIGKILL whose parent has not reaped it yet",
    async () => {
      // The apply's parent is `sh` turned `sleep`, which never reaps it: killed, it stays a zombie.
      const parent = spawn("sh", ["-c", '"$0" "$@" & exec sleep 1000', process.execPath, ...cliArgs(["apply", "pipelines/slow.yaml"])], {
        cwd: project.dir,
        env: { ...process.env, NO_COLOR: "1" },
        stdio: "ignore"
      })
      try {
        await until("the apply to take the lock", () => existsSync(lockFile))
        const pid = (JSON.parse(readFileSync(lockFile, "utf8")) as { pid: number }).pid
        assert.strictEqual(procStat(pid)?.ppid, parent.pid)
        process.kill(pid, "SIGKILL")
        await until(`pid ${pid} to be a zombie`, () => procStat(pid)?.state === "Z")
        const result = cli(project.dir, ["apply", "pipelines/fast.yaml"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.include(result.stderr, `took over a stale lock ${lockFile}: pid ${pid} has exited (a zombie its parent has not reaped yet)`)
        assert.isFalse(existsSync(lockFile))
      } finally {
        parent.kill("SIGKILL")
      }
    },
    120_000
  )
})
