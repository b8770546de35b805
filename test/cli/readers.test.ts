/**
 * Readers are never locked out by a writer: `runs`, `show` and `plan`, from another process, in a
 * loop while an apply runs and while a server holds the warehouse, answer from the warehouse as it
 * is committed (through the holder's read endpoint); a holder that serves no reads is named.
 */
import type { ChildProcess } from "node:child_process"
import { existsSync, rmSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { endlessPipeline, instantPipeline, startCli, until } from "../support/processes.ts"
import { cli, makeProject } from "../support/project.ts"

const started: Array<ChildProcess> = []
const start = (cwd: string, args: ReadonlyArray<string>) => {
  const run = startCli(started, cwd, args)
  return { child: run.child, done: run.done.then((f) => f.code), stderr: () => run.output().stderr }
}

describe("readers beside a writer", () => {
  const project = makeProject({ "pipelines/slow.yaml": endlessPipeline, "pipelines/fast.yaml": instantPipeline, "config/default.yaml": "duckdb: { threads: 1 }\n" })
  const announcement = join(project.dir, ".medallion", "warehouse.duckdb.readers")
  afterAll(() => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    project.remove()
  })

  /** runs, show and plan, each as its own process: all answer, with what is committed. */
  const readAll = (runningPipeline: string | undefined) => {
    const runs = cli(project.dir, ["runs", "--json"])
    assert.strictEqual(runs.code, 0, runs.stderr)
    const recent = JSON.parse(runs.stdout) as Array<{ status: string; pipelines: ReadonlyArray<string> }>
    assert.isTrue(
      recent.some((r) => r.status === "succeeded" && r.pipelines.includes("fast")),
      runs.stdout
    )
    if (runningPipeline !== undefined) assert.deepStrictEqual([recent[0]?.status, recent[0]?.pipelines], ["running", [runningPipeline]], runs.stdout)
    const show = cli(project.dir, ["show", "gold.one", "--json"])
    assert.strictEqual(show.code, 0, show.stderr)
    assert.deepStrictEqual(JSON.parse(show.stdout), [{ n: 1 }])
    const plan = cli(project.dir, ["plan", "pipelines/fast.yaml", "--json"])
    assert.strictEqual(plan.code, 0, plan.stderr)
    assert.include(plan.stdout, "gold.one")
  }

  it("runs, show and plan answer in a loop during a long apply, and name the holder when it serves no reads", { timeout: 180_000 }, async () => {
    const first = cli(project.dir, ["apply", "pipelines/fast.yaml"])
    assert.strictEqual(first.code, 0, first.stderr)

    const slow = start(project.dir, ["apply", "pipelines/slow.yaml"])
    await until("the apply to announce its read endpoint", () => existsSync(announcement) || slow.child.exitCode !== null, 60_000)
    assert.isNull(slow.child.exitCode, slow.stderr())
    for (let i = 0; i < 3; i++) readAll("slow")

    // Without the announcement (a holder that serves no reads) a reader is told who holds the file.
    rmSync(announcement)
    const refused = cli(project.dir, ["runs"])
    assert.strictEqual(refused.code, 1)
    assert.match(
      refused.stderr,
      new RegExp(`^error: the warehouse \\S+ is in use by pid ${slow.child.pid} on host \\S+ since \\S+ \\(medallion apply\\); try again when it has finished\\n$`)
    )

    // Not child.kill: after it, Deno's child_process reports the signal instead of the exit code (130).
    process.kill(slow.child.pid!, "SIGINT")
    assert.strictEqual(await slow.done, 130)
    readAll(undefined) // the file is free again: opened directly
  })

  it("runs, show and plan answer in a loop while a server holds the warehouse", { timeout: 180_000 }, async () => {
    const server = start(project.dir, ["serve", "pipelines/fast.yaml", "--port", "0"])
    await until("the server to announce its read endpoint", () => existsSync(announcement) || server.child.exitCode !== null, 60_000)
    assert.isNull(server.child.exitCode, server.stderr())
    for (let i = 0; i < 3; i++) readAll(undefined)
    process.kill(server.child.pid!, "SIGTERM")
    assert.strictEqual(await server.done, 130)
    assert.isFalse(existsSync(announcement), "the server left its announcement behind")
  })
})
