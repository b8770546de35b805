/**
 * apply's progress: on a terminal (a pty made by `script`) the status line names the running
 * table's statement and its time, and Ctrl-C says at once what the run is waiting for, then that
 * it was cancelled (exit 130); without a terminal nothing is redrawn; the lines for a log, pure.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { cancellingLine, heartbeats, statusLine } from "../../src/cli/progress.ts"
import { endlessPipeline, until } from "../support/processes.ts"
import { cli, cliArgs, makeProject } from "../support/project.ts"

const quoted = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`

describe("apply's progress on a terminal", () => {
  const project = makeProject({ "pipelines/slow.yaml": endlessPipeline, "config/default.yaml": "duckdb: { threads: 1 }\n" })
  const started: Array<ChildProcess> = []
  afterAll(() => {
    for (const child of started) if (child.exitCode === null) child.kill("SIGKILL")
    project.remove()
  })

  it("shows the running statement on a status line, and says at once what Ctrl-C waits for", { timeout: 120_000 }, async () => {
    const pidFile = join(project.dir, "apply.pid")
    // `exec` keeps the shell's pid for the CLI, so the signal goes to it as a terminal's Ctrl-C would.
    const command = `echo $$ > ${quoted(pidFile)}; exec ${[process.execPath, ...cliArgs(["apply", "pipelines/slow.yaml"])].map(quoted).join(" ")}`
    const terminal = spawn("script", ["-qfec", command, "/dev/null"], { cwd: project.dir, env: { ...process.env, NO_COLOR: "1" } })
    started.push(terminal)
    let output = ""
    terminal.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => terminal.on("close", (code) => resolve(code)))

    await until("the status line", () => /running gold\.total CREATE TABLE \d+\.\ds/.test(output) || terminal.exitCode !== null, 60_000)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC [2K is the terminal's erase-line sequence, which the status line writes
    assert.match(output, /\r\u001b\[2Krunning gold\.total CREATE TABLE \d+\.\ds/)
    process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGINT")
    assert.strictEqual(await exited, 130, output)
    assert.match(output, /cancelling \(SIGINT\): stopping gold\.total CREATE TABLE \d+\.\ds; what they were writing is rolled back/)
    assert.match(output, /cancelled: the run is recorded as cancelled/)
    const runs = cli(project.dir, ["runs", "--json"])
    assert.strictEqual((JSON.parse(runs.stdout) as Array<{ status: string }>)[0]?.status, "cancelled")
  })

  it("draws nothing when stderr is not a terminal", { timeout: 60_000 }, () => {
    const fast = makeProject({ "pipelines/one.yaml": "version: 1\npipeline: one\ngold:\n  one:\n    sql: select 1 as n\n" })
    try {
      const applied = cli(fast.dir, ["apply"])
      assert.strictEqual(applied.code, 0, applied.stderr)
      assert.notInclude(applied.stderr + applied.stdout, "\u001b[")
      assert.notInclude(applied.stderr, "running")
    } finally {
      fast.remove()
    }
  })
})

describe("progress lines", () => {
  const now = 100_000
  const running = {
    tables: new Map([
      ["silver.orders", now - 75_000],
      ["gold.daily", now - 2_000]
    ]),
    activity: [{ table: "silver.orders", statement: "MERGE INTO", since: now - 65_000 }]
  }

  it("the status line names each running table, with its statement and time, cut to the width", () => {
    assert.strictEqual(statusLine(running, now, 200), "running silver.orders MERGE INTO 1m05s · gold.daily 2.0s")
    assert.strictEqual(statusLine(running, now, 20), "running silver.ord…")
    assert.strictEqual(statusLine({ tables: new Map(), activity: [] }, now, 80), "working")
  })

  it("a cancellation names what it waits for", () => {
    assert.strictEqual(
      cancellingLine("SIGTERM", running, now),
      "cancelling (SIGTERM): stopping silver.orders MERGE INTO 1m05s, gold.daily 2.0s; what they were writing is rolled back, nothing half-written is published"
    )
    assert.strictEqual(cancellingLine("SIGINT", { tables: new Map(), activity: [] }, now), "cancelling (SIGINT): recording the run as cancelled")
  })

  it("a log gets a line for a statement at 30 s, and once per 30 s after", () => {
    const printed = new Map<string, number>()
    const statement = { table: "silver.orders", statement: "MERGE INTO", since: 0 }
    const at = (ms: number) => heartbeats({ tables: new Map(), activity: [statement] }, ms, printed)
    assert.deepStrictEqual(at(29_000), [])
    assert.deepStrictEqual(at(30_500), ["  ...   silver.orders MERGE INTO 30.5s"])
    assert.deepStrictEqual(at(45_000), [])
    assert.deepStrictEqual(at(61_000), ["  ...   silver.orders MERGE INTO 1m01s"])
  })
})
