/**
 * bin/medallion.js started by a Node.js too old for the CLI (< 22.19) must still load, then run the
 * CLI on the Node 24 the project installs, pass it the signals it gets and end as the CLI ended.
 * Uses an older `node` found on PATH; skipped without one (and on Deno, which has no such launcher).
 */
import { describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { delimiter, join } from "node:path"
import { afterAll, assert } from "vitest"
import { isRunning } from "../../src/runtime/Lock.ts"
import { endlessPipeline, until } from "../support/processes.ts"
import { cli, makeProject, repoRoot, type TestProject } from "../support/project.ts"

const olderNode = (): string | undefined => {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const candidate = join(dir, "node")
    if (dir === "" || !existsSync(candidate)) continue
    const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout.trim()
    const [major, minor] = version.replace(/^v/, "").split(".").map(Number)
    if (major !== undefined && minor !== undefined && (major < 22 || (major === 22 && minor < 19))) return candidate
  }
  return undefined
}

const old = "Deno" in globalThis ? undefined : olderNode()

const slow = endlessPipeline

/** Starts `<old node> bin/medallion.js args` in `dir`; `exited` settles when the launcher itself exits. */
const launch = (dir: string, args: ReadonlyArray<string>) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_")))
  const child = spawn(old!, [join(repoRoot, "bin", "medallion.js"), ...args], { cwd: dir, env: { ...env, NO_COLOR: "1" } })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
  // Not "close": the CLI shares the launcher's pipes and may outlive it.
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })))
  return { child, exited, output: () => ({ stdout, stderr }) }
}

/** The pid in the warehouse lock: the CLI's own process, not the launcher's. */
const lockHolder = (lockFile: string) => (JSON.parse(readFileSync(lockFile, "utf8")) as { pid: number }).pid

const statuses = (dir: string) => {
  const runs = cli(dir, ["runs", "--json"])
  assert.strictEqual(runs.code, 0, runs.stderr)
  return JSON.parse(runs.stdout) as ReadonlyArray<{ batch_id: string; status: string }>
}

describe.skipIf(old === undefined)("bin/medallion.js on an older Node.js", () => {
  const projects: Array<TestProject> = []
  const project = (config = "") => {
    const p = makeProject({ "pipelines/slow.yaml": slow, "config/default.yaml": `duckdb: { threads: 1 }\n${config}` })
    projects.push(p)
    return { ...p, lockFile: join(p.dir, ".medallion", "warehouse.duckdb.lock") }
  }
  /** CLI processes a failed test may have left running. */
  const strays: Array<number> = []
  afterAll(() => {
    for (const pid of strays) if (isRunning(pid)) process.kill(pid, "SIGKILL")
    for (const p of projects) p.remove()
  })

  it("loads, and runs the CLI on the project's own Node", () => {
    const result = spawnSync(old!, [join(repoRoot, "bin", "medallion.js"), "--version"], { encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^medallion v\d+\.\d+\.\d+/)
  })

  it("passes SIGTERM to serve, which cancels its run and releases the lock, and exits with its code", async () => {
    const p = project("api: { shutdown_grace: 200ms }\n")
    const server = launch(p.dir, ["serve", "--port", "0"])
    await until("the server to listen", () => /medallion serve: http:\/\/\S+/.test(server.output().stdout) || server.child.exitCode !== null, 60_000)
    const url = /medallion serve: (http:\/\/\S+)/.exec(server.output().stdout)?.[1]
    assert.isDefined(url, server.output().stderr)
    const cliPid = lockHolder(p.lockFile)
    strays.push(cliPid)
    assert.notStrictEqual(cliPid, server.child.pid, "the launcher runs the CLI in a process of its own")

    const started = await fetch(`${url}/pipelines/slow/runs`, { method: "POST" })
    assert.strictEqual(started.status, 202)
    const batch = ((await started.json()) as { batch_id: string }).batch_id
    await until("the run to start", async () => ((await (await fetch(`${url}/runs/${batch}`)).json()) as { run: { status: string } }).run.status === "running")

    process.kill(server.child.pid!, "SIGTERM") // the launcher only, not its process group
    const exit = await server.exited
    assert.deepStrictEqual(exit, { code: 130, signal: null }, server.output().stderr)
    assert.isFalse(isRunning(cliPid), "the CLI has ended with the launcher")
    assert.isFalse(existsSync(p.lockFile))
    const runs = statuses(p.dir)
    assert.strictEqual(runs.find((r) => r.batch_id === batch)?.status, "cancelled")
    assert.notInclude(
      runs.map((r) => r.status),
      "running"
    )
  }, 120_000)

  it("passes Ctrl-C (SIGINT) to apply, which cancels the run and releases the lock, and exits with 130", async () => {
    const p = project()
    const apply = launch(p.dir, ["apply", "pipelines/slow.yaml"])
    await until("the apply to take the lock", () => existsSync(p.lockFile) || apply.child.exitCode !== null, 60_000)
    const cliPid = lockHolder(p.lockFile)
    strays.push(cliPid)
    assert.notStrictEqual(cliPid, apply.child.pid)

    process.kill(apply.child.pid!, "SIGINT")
    const exit = await apply.exited
    assert.deepStrictEqual(exit, { code: 130, signal: null }, apply.output().stderr)
    assert.isFalse(isRunning(cliPid), "the CLI has ended with the launcher")
    assert.isFalse(existsSync(p.lockFile))
    assert.notInclude(
      statuses(p.dir).map((r) => r.status),
      "running"
    )
  }, 120_000)

  it("ends by the signal that ended the CLI", async () => {
    const p = project()
    const apply = launch(p.dir, ["apply", "pipelines/slow.yaml"])
    await until("the apply to take the lock", () => existsSync(p.lockFile) || apply.child.exitCode !== null, 60_000)
    const cliPid = lockHolder(p.lockFile)
    strays.push(cliPid)
    process.kill(cliPid, "SIGKILL")
    assert.deepStrictEqual(await apply.exited, { code: null, signal: "SIGKILL" })
  }, 120_000)
})
