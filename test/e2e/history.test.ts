/**
 * Run history after what a user cannot prevent: an apply killed (SIGKILL) after some tables
 * published lists exactly those tables, with their counts, under a run marked crashed by the next
 * command that opens the warehouse; and a run on a full disk (a real tmpfs, mounted in a private
 * mount namespace by `unshare`) that cannot record itself says so, naming its batch id and why.
 */
import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { applyProcess } from "../support/crash.ts"
import { cli, cliArgs, makeProject, type TestProject } from "../support/project.ts"

// The gold table takes seconds of DuckDB work on one thread: the apply is killed while it runs.
const halfway = `
version: 1
pipeline: halfway
sources:
  events_raw: { format: csv, path: data/*.csv, incremental: true }
bronze:
  events: { from: events_raw }
silver:
  events:
    from: bronze.events
    transforms: [ { cast: { columns: { amount: integer }, on_error: quarantine } } ]
gold:
  slow:
    sql: select sum(a.range * b.range) + (select count(*) from {{ silver.events }}) as s from range(40000) a, range(20000) b
`

const files = (pipeline: string) => ({
  "pipelines/halfway.yaml": pipeline,
  "data/events_1.csv": "id,amount\n1,10\n2,abc\n3,30\n4,40\n",
  "config/default.yaml": "duckdb: { threads: 1 }\n"
})

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

describe("run history", () => {
  const projects: Array<TestProject> = []
  const project = (pipeline: string) => {
    const p = makeProject(files(pipeline))
    projects.push(p)
    return p
  }
  afterAll(() => {
    for (const p of projects) p.remove()
  })

  it("an apply killed after some tables published shows as crashed, listing exactly those tables with their counts", async () => {
    const p = project(halfway)
    const crash = { dir: p.dir, warehouse: join(p.dir, ".medallion", "warehouse.duckdb"), landing: join(p.dir, "data"), remove: p.remove }
    // Killed once silver.events is reported (its transaction committed), while gold.slow runs.
    const killed = await applyProcess(crash, (stdout) => /ok\s+silver\.events/.test(stdout))
    assert.isTrue(killed.killed, `the apply was not killed:\n${killed.stdout}\n${killed.stderr}`)
    assert.notMatch(killed.stdout, /gold\.slow/)

    // `runs` opens the warehouse (no other process can have it): the dead run is crashed at once, with its totals.
    const listed = cli(p.dir, ["runs", "--json"])
    assert.strictEqual(listed.code, 0, listed.stderr)
    const runs = JSON.parse(listed.stdout) as ReadonlyArray<{ batch_id: string; status: string; records_in: number; records_out: number; errors: number }>
    assert.deepStrictEqual(
      runs.map((r) => [r.status, r.records_in, r.records_out, r.errors]),
      [["crashed", 8, 7, 0]]
    )
    const id = runs[0]!.batch_id

    const one = cli(p.dir, ["runs", id, "--json"])
    assert.strictEqual(one.code, 0, one.stderr)
    const tables = (JSON.parse(one.stdout) as { tables: ReadonlyArray<{ table: string; status: string; rows_in: number; rows_out: number; quarantined: number }> }).tables
    assert.deepStrictEqual(
      tables.map((t) => [t.table, t.status, t.rows_in, t.rows_out, t.quarantined]),
      [
        ["bronze.events", "succeeded", 4, 4, 0],
        ["silver.events", "succeeded", 4, 3, 1]
      ]
    )
    const text = cli(p.dir, ["runs", id])
    assert.notInclude(text.stdout, "no tables recorded")
    assert.match(text.stdout, /ok\s+silver\.events\s+replace\s+in 4\s+out 3\s+quarantined 1/)
  }, 120_000)

  // A private mount namespace (as an unprivileged user too, where user namespaces are allowed) to mount a small tmpfs in.
  const namespaces = spawnSync("unshare", ["-rm", "true"]).status === 0
  it.skipIf(!namespaces)(
    "a run on a full disk that cannot record itself fails naming its batch id and both causes",
    () => {
      const p = project(halfway.slice(0, halfway.indexOf("gold:")))
      const built = cli(p.dir, ["apply"])
      assert.strictEqual(built.code, 0, built.stderr)
      writeFileSync(join(p.dir, "data", "events_2.csv"), "id,amount\n5,50\n")
      const disk = join(p.dir, "disk")
      const out = join(p.dir, "out")
      const medallion = (args: string) => `${[process.execPath, ...cliArgs([])].map(shellQuote).join(" ")} ${args}`
      // The project is copied onto a 16 MB tmpfs, which is then filled but for one page (the lock file takes it).
      const script = `set -u
mkdir -p ${shellQuote(disk)} ${shellQuote(out)}
mount -t tmpfs -o size=16m tmpfs ${shellQuote(disk)}
cp -a pipelines data config .medallion ${shellQuote(disk)}/
cd ${shellQuote(disk)}
head -c 4096 /dev/zero > spare
dd if=/dev/zero of=filler bs=4k 2>/dev/null
rm spare
${medallion("apply")} > ${shellQuote(join(out, "apply.out"))} 2> ${shellQuote(join(out, "apply.err"))}
echo $? > ${shellQuote(join(out, "apply.code"))}
rm filler
${medallion("runs --json")} > ${shellQuote(join(out, "runs.out"))} 2>&1
`
      const result = spawnSync("unshare", ["-rm", "sh", "-c", script], { cwd: p.dir, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } })
      assert.strictEqual(result.status, 0, `${result.stdout}\n${result.stderr}`)
      const read = (name: string) => readFileSync(join(out, name), "utf8")
      const stderr = read("apply.err")
      assert.strictEqual(read("apply.code").trim(), "1", `${read("apply.out")}\n${stderr}`)
      const id = /the history of run (\S+) \(failed\) could not be written into the warehouse: .*No space left on device/.exec(stderr)?.[1]
      assert.isDefined(id, stderr)
      assert.include(stderr, `nor kept beside it: ${join(disk, ".medallion", "warehouse.duckdb")}.pending-runs.jsonl: cannot keep run ${id} here (ENOSPC`)
      assert.include(stderr, "It will not appear in medallion runs")
      // Once there is space again, the history is whole: the first run, and nothing left running.
      const runs = JSON.parse(read("runs.out")) as ReadonlyArray<{ batch_id: string; status: string }>
      assert.deepStrictEqual(
        runs.map((r) => r.status),
        ["succeeded"]
      )
    },
    180_000
  )
})
