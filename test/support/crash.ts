/**
 * Crash testing support, shared by test/e2e/crash.test.ts (short, for CI) and bench/crash.ts (soak):
 * a generated multi-batch incremental project, `medallion apply` as a child process that can be
 * SIGKILLed at a chosen moment, and the invariants a warehouse must keep whatever was killed when.
 *
 * The data is built so that the final result does not depend on how files were grouped into
 * batches: duplicate lines only repeat within a file, and later versions of an order come in later
 * files (the merge tables keep one row per order and version, then the highest version).
 */
import { spawn } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { cliArgs } from "./project.ts"

/** Deterministic PRNG (mulberry32): the same seed gives the same data and the same kill times. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    chance: (p: number) => next() < p
  }
}
type Prng = ReturnType<typeof prng>

const pipeline = `version: 1
pipeline: crash
sources:
  landing: { format: csv, path: data/landing/*.csv, incremental: true }
bronze:
  orders: { from: landing }
silver:
  orders:
    from: bronze.orders
    mode: merge
    key: [order_id, version]
    sequence_by: version
    transforms:
      - cast: { columns: { order_id: bigint, version: integer, customer_id: bigint, amount: "decimal(12,2)", updated_at: timestamp }, on_error: quarantine }
      - trim: [status]
    expect:
      - { name: positive_amount, check: amount >= 0, on_fail: quarantine }
      - { not_null: [customer_id], on_fail: drop }
      - { accepted_values: { column: status, values: [placed, shipped, delivered, returned] }, on_fail: quarantine }
  order_state:
    from: silver.orders
    mode: merge
    key: [order_id]
    sequence_by: version
gold:
  status_totals:
    from: silver.order_state
    transforms:
      - aggregate: { by: [status], metrics: { orders: count(*), amount: sum(amount) } }
  daily_events:
    from: silver.orders
    transforms:
      - window: { column: updated_at, every: 1 day, as: day }
      - aggregate: { by: [day], metrics: { events: count(*), amount: sum(amount), customers: count(DISTINCT customer_id) } }
  customer_value:
    from: silver.order_state
    transforms:
      - aggregate: { by: ["customer_id % 97 AS segment"], metrics: { orders: count(*), amount: sum(amount), top: max(amount) } }
`

// One thread less than the machine would take keeps the test process responsive on two cores.
const config = `engine: duckdb
concurrency: 2
duckdb: { path: ./.medallion/warehouse.duckdb, threads: 2 }
`

interface GeneratedFile {
  readonly name: string
  /** Data lines (without the header) and lines the CSV reader must reject. */
  readonly lines: number
  readonly malformed: number
}

export interface Dataset {
  /** Where the files wait (data/stash) before a trial moves them into data/landing. */
  readonly stash: string
  readonly files: ReadonlyArray<GeneratedFile>
}

const statuses = ["placed", "shipped", "delivered", "returned"] as const

/**
 * `count` CSV files of about `rows` lines each: new orders and later versions of earlier orders,
 * with ~1% exact duplicate lines, ~0.5% each of non-numeric amounts (cast quarantine), negative
 * amounts (expectation quarantine), unknown statuses (quarantine) and missing customers (drop),
 * and ~0.1% malformed lines with an extra column (bronze rejects).
 */
export const generate = (stash: string, options: { readonly count: number; readonly rows: number; readonly seed: number }): Dataset => {
  const random = prng(options.seed)
  mkdirSync(stash, { recursive: true })
  const files: Array<GeneratedFile> = []
  let nextOrder = 1
  const base = Date.UTC(2026, 0, 1)
  for (let f = 0; f < options.count; f++) {
    const out: Array<string> = ["order_id,version,customer_id,status,amount,updated_at"]
    let malformed = 0
    const updated = new Set<number>()
    for (let i = 0; i < options.rows; i++) {
      let order: number
      if (nextOrder > 1000 && random.chance(0.3)) {
        order = random.int(1, nextOrder - 1)
        if (updated.has(order)) order = nextOrder++
      } else {
        order = nextOrder++
      }
      updated.add(order)
      const at = new Date(base + f * 86_400_000 * 2 + Math.floor(random.next() * 3 * 86_400_000))
      const customer = random.chance(0.005) ? "" : String(random.int(1, 5000))
      const status = random.chance(0.005) ? "lost" : `${random.chance(0.05) ? " " : ""}${statuses[random.int(0, 3)]}`
      const cents = random.int(100, 99_999)
      const amount = random.chance(0.005) ? "n/a" : `${random.chance(0.005) ? "-" : ""}${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`
      const line = `${order},${f + 1},${customer},${status},${amount},${at.toISOString().replace("T", " ").slice(0, 19)}`
      if (random.chance(0.001)) {
        out.push(`${line},unexpected`)
        malformed++
        continue
      }
      out.push(line)
      if (random.chance(0.01)) out.push(line)
    }
    const name = `orders_${String(f + 1).padStart(2, "0")}.csv`
    writeFileSync(join(stash, name), `${out.join("\n")}\n`)
    files.push({ name, lines: out.length - 1, malformed })
  }
  return { stash, files }
}

export interface CrashProject {
  readonly dir: string
  readonly warehouse: string
  readonly landing: string
  readonly remove: () => void
}

/** A project with the pipeline, its config and an empty landing folder. */
const makeCrashProject = (root?: string): CrashProject => {
  const dir = mkdtempSync(join(root ?? tmpdir(), "medallion-crash-"))
  mkdirSync(join(dir, "pipelines"), { recursive: true })
  mkdirSync(join(dir, "config"), { recursive: true })
  mkdirSync(join(dir, "data", "landing"), { recursive: true })
  writeFileSync(join(dir, "pipelines", "crash.yaml"), pipeline)
  writeFileSync(join(dir, "config", "default.yaml"), config)
  return {
    dir,
    warehouse: join(dir, ".medallion", "warehouse.duckdb"),
    landing: join(dir, "data", "landing"),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}

/** Copies files from the stash into the project's landing folder (whole files: never half-written). */
const land = (project: CrashProject, dataset: Dataset, names: ReadonlyArray<string>) => {
  for (const name of names) copyFileSync(join(dataset.stash, name), join(project.landing, name))
}

export interface Applied {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Whether our SIGKILL ended it (false when it finished first). */
  readonly killed: boolean
  /** Whether the process held the warehouse lock when it was killed (it was past start-up, into the run). */
  readonly killedHoldingLock: boolean
  /** When the lock file first appeared, in ms after the start (polled every 5 ms). */
  readonly lockMs: number | undefined
  readonly ms: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `medallion apply` in the project as a child process; with `kill`, SIGKILLs it that many ms
 * after the start, or as soon as its output so far satisfies it.
 */
export const applyProcess = (project: CrashProject, kill?: number | ((stdout: string) => boolean), args: ReadonlyArray<string> = []): Promise<Applied> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, cliArgs(["apply", ...args]), { cwd: project.dir, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let killed = false
    let killedHoldingLock = false
    let lockMs: number | undefined
    const lockFile = `${project.warehouse}.lock`
    const poll = setInterval(() => {
      if (lockMs === undefined && existsSync(lockFile)) lockMs = performance.now() - started
    }, 5)
    const killNow = () => {
      if (!killed && child.exitCode === null && child.signalCode === null) {
        killedHoldingLock = existsSync(lockFile)
        killed = child.kill("SIGKILL")
      }
    }
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (typeof kill === "function" && kill(stdout)) killNow()
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = typeof kill === "number" ? setTimeout(killNow, kill) : undefined
    const guard = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.on("error", reject)
    // "close": the process has exited and been reaped, so its pid is really gone (a lock holder check
    // with signal 0 would still find a zombie).
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      clearTimeout(guard)
      clearInterval(poll)
      const wasKilled = killed && signal === "SIGKILL"
      resolve({ code, signal, killed: wasKilled, killedHoldingLock: wasKilled && killedHoldingLock, lockMs, ms: performance.now() - started, stdout, stderr })
    })
  })

// ---------------------------------------------------------------------------------------------
// Reading warehouses

const lineage = ["_batch_id", "_ingested_at", "_quarantine_batch_id", "_quarantined_at"]
const filePathColumns = ["_source_file", "source_file"]
const sqlText = (s: string) => `'${s.replaceAll("'", "''")}'`

type Connection = Awaited<ReturnType<DuckDBInstance["connect"]>>

/** Opens the given warehouses read-only, attached as w0, w1, ..., for one body; closes them after. */
export const withWarehouses = async <A>(
  paths: ReadonlyArray<string>,
  body: (query: (sql: string) => Promise<ReadonlyArray<Record<string, unknown>>>) => Promise<A>
): Promise<A> => {
  const db = await DuckDBInstance.create(":memory:")
  let connection: Connection | undefined
  try {
    connection = await db.connect()
    for (const [i, path] of paths.entries()) await connection.run(`ATTACH ${sqlText(path)} AS w${i} (READ_ONLY)`)
    const c = connection
    return await body(async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJson() as ReadonlyArray<Record<string, unknown>>)
  } finally {
    connection?.closeSync()
    db.closeSync()
  }
}

/** The tables compared with the reference: all of gold, and the data tables of bronze and silver. */
const comparedTables = [
  "gold.status_totals",
  "gold.daily_events",
  "gold.customer_value",
  "silver.orders",
  "silver.orders__quarantine",
  "silver.order_state",
  "bronze.orders",
  "bronze.orders__rejects"
] as const

interface TrialCheck {
  readonly failures: ReadonlyArray<string>
  readonly runs: Readonly<Record<string, number>>
}

/**
 * Checks a trial's warehouse against the reference warehouse and the invariants that must hold
 * whatever was killed when. Returns a description of each violation (empty when all hold).
 */
const checkTrial = (warehouse: string, reference: string, dataset: Dataset, applies: { readonly completed: number; readonly kills: number }) =>
  withWarehouses([warehouse, reference], async (query): Promise<TrialCheck> => {
    const failures: Array<string> = []
    const n = async (sql: string) => Number((await query(sql))[0]?.["n"] ?? Number.NaN)
    const existing = new Set(
      (await query("SELECT table_catalog || '.' || table_schema || '.' || table_name AS id FROM information_schema.tables WHERE table_catalog IN ('w0', 'w1')")).map((r) =>
        String(r["id"])
      )
    )

    // Every gold (and bronze, silver) table equals the reference, lineage columns aside.
    for (const table of comparedTables) {
      const [layer, name] = table.split(".") as [string, string]
      if (!existing.has(`w1.${layer}.${name}`)) {
        failures.push(`reference has no ${table}`)
        continue
      }
      if (!existing.has(`w0.${layer}.${name}`)) {
        failures.push(`${table} is missing`)
        continue
      }
      // Lineage columns name the run; file paths name the project directory: both differ by design.
      const columns = (
        await query(`SELECT column_name AS c FROM information_schema.columns
        WHERE table_catalog = 'w1' AND table_schema = ${sqlText(layer)} AND table_name = ${sqlText(name)} ORDER BY ordinal_position`)
      )
        .map((r) => String(r["c"]))
        .filter((c) => !lineage.includes(c))
      const list = columns.map((c) => (filePathColumns.includes(c) ? `regexp_extract("${c}", '[^/\\\\]+$') AS "${c}"` : `"${c}"`)).join(", ")
      const data = (side: string) => `SELECT ${list} FROM ${side}.${layer}."${name}"`
      try {
        const extra = await n(`SELECT count(*) AS n FROM (${data("w0")} EXCEPT ALL ${data("w1")})`)
        const missing = await n(`SELECT count(*) AS n FROM (${data("w1")} EXCEPT ALL ${data("w0")})`)
        if (extra !== 0 || missing !== 0) {
          const rows = await n(`SELECT count(*) AS n FROM w0.${layer}."${name}"`)
          const expected = await n(`SELECT count(*) AS n FROM w1.${layer}."${name}"`)
          failures.push(`${table} differs from the reference: ${rows} rows (reference ${expected}), ${extra} extra, ${missing} missing`)
        }
      } catch (error) {
        failures.push(`${table} cannot be compared with the reference: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
      }
    }

    // Bronze: each file ingested exactly once, with all its good rows.
    const landed = dataset.files
    const ledger = await query("SELECT path, count(*) AS n FROM w0._medallion.ingested_files WHERE table_id = 'bronze.orders' GROUP BY path")
    const ledgerByName = new Map(ledger.map((r) => [String(r["path"]).split("/").pop()!, Number(r["n"])]))
    for (const file of landed) {
      const times = ledgerByName.get(file.name) ?? 0
      if (times !== 1) failures.push(`_medallion.ingested_files lists ${file.name} ${times} time(s)`)
    }
    if (ledger.length !== landed.length) failures.push(`_medallion.ingested_files has ${ledger.length} paths, expected ${landed.length}`)
    if (existing.has("w0.bronze.orders")) {
      const perFile = await query(`SELECT _source_file AS f, count(*) AS n, count(DISTINCT _batch_id) AS b FROM w0.bronze.orders GROUP BY 1`)
      const byName = new Map(perFile.map((r) => [String(r["f"]).split("/").pop()!, { rows: Number(r["n"]), batches: Number(r["b"]) }]))
      for (const file of landed) {
        const got = byName.get(file.name)
        const good = file.lines - file.malformed
        if (got === undefined || got.rows !== good) failures.push(`bronze.orders has ${got?.rows ?? 0} rows of ${file.name}, expected ${good}`)
        if (got !== undefined && got.batches !== 1) failures.push(`bronze.orders has ${file.name} in ${got.batches} batches`)
      }
      const total = await n("SELECT count(*) AS n FROM w0.bronze.orders")
      const expected = landed.reduce((a, f) => a + f.lines - f.malformed, 0)
      if (total !== expected) failures.push(`bronze.orders has ${total} rows, expected ${expected} (the files' good rows)`)
    }

    // Silver append: each bronze batch consumed once, and the batches in the table are those consumed.
    if (existing.has("w0.silver.orders")) {
      const distinct = await n("SELECT count(DISTINCT _batch_id) AS n FROM w0.silver.orders")
      const consumed = await n("SELECT count(*) AS n FROM w0._medallion.consumed_batches WHERE table_id = 'silver.orders'")
      const consumedDistinct = await n("SELECT count(DISTINCT batch_id) AS n FROM w0._medallion.consumed_batches WHERE table_id = 'silver.orders'")
      const bronzeBatches = await n("SELECT count(DISTINCT _batch_id) AS n FROM w0.bronze.orders")
      if (consumed !== consumedDistinct) failures.push(`silver.orders consumed a batch more than once: ${consumed} ledger rows, ${consumedDistinct} batches`)
      if (distinct !== consumedDistinct) failures.push(`silver.orders holds ${distinct} distinct _batch_id but consumed ${consumedDistinct}`)
      if (consumedDistinct !== bronzeBatches) failures.push(`silver.orders consumed ${consumedDistinct} batches of the ${bronzeBatches} in bronze.orders`)
      const dupes = await n("SELECT count(*) AS n FROM (SELECT order_id, version FROM w0.silver.orders GROUP BY ALL HAVING count(*) > 1)")
      if (dupes !== 0) failures.push(`silver.orders has ${dupes} duplicated (order_id, version)`)
    }

    // Row accounting for every table of every succeeded run.
    const unbalanced = await query(`SELECT batch_id, table_id, rows_in, rows_out, quarantined, dropped, duplicates, rejected, accounting_ok
      FROM w0._medallion.run_tables WHERE status = 'succeeded'
        AND (rows_in <> rows_out + quarantined + dropped + duplicates + rejected OR NOT accounting_ok)`)
    for (const r of unbalanced)
      failures.push(
        `run ${r["batch_id"]} ${r["table_id"]}: rows_in ${r["rows_in"]} <> out ${r["rows_out"]} + quarantined ${r["quarantined"]} + dropped ${r["dropped"]} + duplicates ${r["duplicates"]} + rejected ${r["rejected"]} (accounting_ok ${r["accounting_ok"]})`
      )

    // History: every table a run published (its batch) is recorded in that run with the batch's rows,
    // in the same transaction; a crashed run lists exactly those, and its totals are their sums.
    const unrecorded = await query(`SELECT b.batch_id, b.table_id FROM w0._medallion.batches b
      LEFT JOIN w0._medallion.run_tables t ON t.batch_id = b.batch_id AND t.table_id = b.table_id AND t.status = 'succeeded' AND t.rows_out = b.record_count
      WHERE t.table_id IS NULL`)
    for (const r of unrecorded) failures.push(`run ${r["batch_id"]} published ${r["table_id"]} but does not record it with that batch's rows`)
    const unpublished = await query(`SELECT t.batch_id, t.table_id FROM w0._medallion.run_tables t JOIN w0._medallion.runs r USING (batch_id)
      LEFT JOIN w0._medallion.batches b ON b.batch_id = t.batch_id AND b.table_id = t.table_id
      WHERE r.status = 'crashed' AND b.table_id IS NULL`)
    for (const r of unpublished) failures.push(`crashed run ${r["batch_id"]} records ${r["table_id"]}, which it did not publish`)
    const untotalled = await query(`SELECT r.batch_id, r.records_in, r.records_out FROM w0._medallion.runs r
      LEFT JOIN (SELECT batch_id, sum(rows_in) AS i, sum(rows_out) AS o FROM w0._medallion.run_tables GROUP BY 1) t USING (batch_id)
      WHERE r.status = 'crashed' AND (r.records_in <> coalesce(t.i, 0) OR r.records_out <> coalesce(t.o, 0))`)
    for (const r of untotalled) failures.push(`crashed run ${r["batch_id"]}: records_in ${r["records_in"]}, records_out ${r["records_out"]} are not the sums of its tables`)

    // Runs: none left running; a killed run is crashed; every completed apply succeeded. A run that
    // found nothing to do may still wait in the pending-runs file (a line cut short by a kill is no run).
    const status = new Map((await query("SELECT batch_id, status FROM w0._medallion.runs")).map((r) => [String(r["batch_id"]), String(r["status"])]))
    const pendingFile = `${warehouse}.pending-runs.jsonl`
    const pendingLines = existsSync(pendingFile)
      ? readFileSync(pendingFile, "utf8")
          .split("\n")
          .filter((line) => line.trim() !== "")
      : []
    for (const line of pendingLines) {
      try {
        const run = JSON.parse(line) as { batch_id: string; status: string }
        status.set(run.batch_id, run.status)
      } catch {
        // cut short
      }
    }
    const runs: Record<string, number> = {}
    for (const s of status.values()) runs[s] = (runs[s] ?? 0) + 1
    if ((runs["running"] ?? 0) > 0) failures.push(`${runs["running"]} run(s) still "running" after a later apply`)
    // A kill can land after a run recorded its success and before the process exited: such a run
    // counts as succeeded, not crashed. So each kill leaves at most one extra succeeded or crashed run.
    const succeeded = runs["succeeded"] ?? 0
    const crashed = runs["crashed"] ?? 0
    if (succeeded < applies.completed) failures.push(`${succeeded} succeeded runs recorded for ${applies.completed} completed applies`)
    if (succeeded - applies.completed + crashed > applies.kills) {
      failures.push(`${succeeded} succeeded and ${crashed} crashed runs for ${applies.completed} completed applies and ${applies.kills} kills`)
    }
    const others = Object.keys(runs).filter((s) => !["succeeded", "crashed", "running"].includes(s))
    if (others.length > 0) failures.push(`unexpected run statuses: ${others.map((s) => `${s} ${runs[s]}`).join(", ")}`)

    // A replace killed between build and swap leaves <table>__next; a later build replaces it, so none may remain.
    const leftovers = [...existing].filter((id) => id.startsWith("w0.") && id.endsWith("__next"))
    if (leftovers.length > 0) failures.push(`left-over tables: ${leftovers.map((id) => id.slice(3)).join(", ")}`)
    return { failures, runs }
  })

// ---------------------------------------------------------------------------------------------
// Trials

export interface Reference {
  readonly warehouse: string
  /** Wall time of one apply of all files into an empty warehouse, in ms. */
  readonly applyMs: number
  /** When that apply took the warehouse lock (start-up done), in ms. */
  readonly lockMs: number
}

/** Applies all files once into a clean warehouse: the expected result of every trial. */
export const buildReference = async (dataset: Dataset, root?: string): Promise<Reference & { readonly project: CrashProject }> => {
  const project = makeCrashProject(root)
  land(
    project,
    dataset,
    dataset.files.map((f) => f.name)
  )
  const result = await applyProcess(project)
  if (result.code !== 0) throw new Error(`the reference apply failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
  return { project, warehouse: project.warehouse, applyMs: result.ms, lockMs: Math.round(result.lockMs ?? 0) }
}

export interface TrialResult {
  readonly trial: number
  readonly steps: ReadonlyArray<number>
  readonly kills: number
  /** Kills of a process that held the lock (past start-up: opening, migrating, running tables, recording). */
  readonly killsHoldingLock: number
  /** Kill times that came after the apply had already finished. */
  readonly missed: number
  readonly takeovers: number
  readonly completed: number
  readonly killTimes: ReadonlyArray<number>
  readonly failures: ReadonlyArray<string>
  readonly runs: Readonly<Record<string, number>>
}

export interface TrialOptions {
  readonly trial: number
  readonly seed: number
  readonly dataset: Dataset
  readonly reference: Reference
  /** Where kill times are drawn from; shared by concurrent trials, it follows the machine's pace. */
  readonly window: KillWindow
  /**
   * Chance of drawing a kill time between start-up (the lock taken) and the typical run time
   * rather than between the window's minimum and the typical run time: most kills should land
   * in the run itself rather than while Node loads modules.
   */
  readonly pastStartup: number
  /** Chance of killing the recovering apply too (again and again, up to maxKillsPerStep). */
  readonly rekill: number
  readonly maxKillsPerStep: number
  /** Chance of landing the files in 3 steps rather than 2. */
  readonly threeSteps: number
  readonly root?: string | undefined
  readonly keep?: boolean | undefined
}

export interface KillWindow {
  /** Records a completed apply's duration and when it took the lock. */
  readonly observe: (applied: Applied) => void
  /** Kill times in ms after the start: minMs <= startupMs <= maxMs. */
  readonly bounds: () => { readonly minMs: number; readonly startupMs: number; readonly maxMs: number }
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/**
 * Kill times between `minMs` and the typical run time, that is the median of the last completed
 * applies (starting from the reference's), so that kills keep landing mid-run when the machine is
 * busier or the steps smaller than the reference run.
 */
export const killWindow = (reference: Reference, minMs = 50): KillWindow => {
  const runs: Array<number> = [reference.applyMs]
  const locks: Array<number> = [reference.lockMs]
  return {
    observe: (applied) => {
      if (applied.killed || applied.code !== 0) return
      runs.push(applied.ms)
      if (applied.lockMs !== undefined) locks.push(applied.lockMs)
    },
    bounds: () => {
      const maxMs = Math.max(minMs + 100, Math.round(median(runs.slice(-12))))
      return { minMs, startupMs: Math.min(Math.max(minMs, Math.round(median(locks.slice(-12)))), maxMs - 50), maxMs }
    }
  }
}

/** Splits n files into 2 or 3 (with chance `three`) consecutive, non-empty steps. */
const stepsOf = (random: Prng, n: number, three: number): ReadonlyArray<number> => {
  const parts = Math.min(n, random.chance(three) ? 3 : 2)
  const cuts = new Set<number>()
  while (cuts.size < parts - 1) cuts.add(random.int(1, n - 1))
  const sorted = [0, ...[...cuts].sort((a, b) => a - b), n]
  return sorted.slice(1).map((c, i) => c - sorted[i]!)
}

/**
 * One trial in a fresh warehouse: land the files in 2-3 steps; for each, start apply and SIGKILL
 * it at a random moment (maybe again on the next try), then apply to completion; then check.
 */
const runTrial = async (options: TrialOptions): Promise<TrialResult> => {
  const random = prng(options.seed)
  const project = makeCrashProject(options.root)
  const failures: Array<string> = []
  const killTimes: Array<number> = []
  let kills = 0,
    killsHoldingLock = 0,
    missed = 0,
    takeovers = 0,
    completed = 0
  const steps = stepsOf(random, options.dataset.files.length, options.threeSteps)
  try {
    let landed = 0
    for (const [s, size] of steps.entries()) {
      land(
        project,
        options.dataset,
        options.dataset.files.slice(landed, landed + size).map((f) => f.name)
      )
      landed += size
      let killsThisStep = 0
      let killNext = true
      while (killNext && killsThisStep < options.maxKillsPerStep) {
        const bounds = options.window.bounds()
        const at = random.int(random.chance(options.pastStartup) ? bounds.startupMs : bounds.minMs, bounds.maxMs)
        const result = await applyProcess(project, at)
        if (result.stderr.includes("took over a stale lock")) takeovers++
        if (result.killed) {
          kills++
          if (result.killedHoldingLock) killsHoldingLock++
          killsThisStep++
          killTimes.push(at)
        } else {
          missed++
          options.window.observe(result)
          if (result.code === 0) completed++
          else failures.push(`step ${s + 1}: an apply that was not killed exited ${result.code ?? result.signal}: ${lastLines(result)}`)
        }
        killNext = result.killed && random.chance(options.rekill)
      }
      const recovering = killsThisStep > 0
      const result = await applyProcess(project)
      // Only an apply that did this step's work tells the typical run time (not a no-op after a missed kill).
      if (recovering) options.window.observe(result)
      if (result.stderr.includes("took over a stale lock")) takeovers++
      if (result.code === 0) completed++
      else failures.push(`step ${s + 1}: the apply after ${killsThisStep} kill(s) exited ${result.code ?? result.signal}: ${lastLines(result)}`)
      if (existsSync(`${project.warehouse}.lock`)) failures.push(`step ${s + 1}: ${project.warehouse}.lock remains after a completed apply`)
    }
    const check = await checkTrial(project.warehouse, options.reference.warehouse, options.dataset, { completed, kills })
    failures.push(...check.failures)
    return { trial: options.trial, steps, kills, killsHoldingLock, missed, takeovers, completed, killTimes, failures, runs: check.runs }
  } catch (error) {
    failures.push(`trial aborted: ${error instanceof Error ? error.message : String(error)}`)
    return { trial: options.trial, steps, kills, killsHoldingLock, missed, takeovers, completed, killTimes, failures, runs: {} }
  } finally {
    if (options.keep !== true || failures.length === 0) project.remove()
    else failures.push(`(kept ${project.dir})`)
  }
}

const lastLines = (r: Applied) => `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-6).join(" | ")

export const summarize = (results: ReadonlyArray<TrialResult>) => {
  const failed = results.filter((r) => r.failures.length > 0)
  return {
    trials: results.length,
    kills: results.reduce((a, r) => a + r.kills, 0),
    killsHoldingLock: results.reduce((a, r) => a + r.killsHoldingLock, 0),
    missed: results.reduce((a, r) => a + r.missed, 0),
    takeovers: results.reduce((a, r) => a + r.takeovers, 0),
    crashedRuns: results.reduce((a, r) => a + (r.runs["crashed"] ?? 0), 0),
    failedTrials: failed.length,
    failures: failed.flatMap((r) => r.failures.map((f) => `trial ${r.trial}: ${f}`))
  }
}

export const summaryLine = (s: ReturnType<typeof summarize>) =>
  `crash: ${s.trials} trials, ${s.kills} kills (${s.killsHoldingLock} past start-up, holding the lock; ${s.missed} applies finished before their kill time), ` +
  `${s.takeovers} stale locks taken over, ${s.crashedRuns} runs marked crashed, ${s.failedTrials} failed trial(s), ${s.failures.length} failure(s) found`

/** Runs trials `first .. first+count-1`, `concurrency` at a time, each with its own seed. */
export const runTrials = async (
  count: number,
  concurrency: number,
  options: Omit<TrialOptions, "trial" | "seed">,
  seed: number,
  onResult?: (result: TrialResult) => void
): Promise<ReadonlyArray<TrialResult>> => {
  const results: Array<TrialResult> = []
  let next = 0
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      while (next < count) {
        const trial = next++
        const result = await runTrial({ ...options, trial, seed: seed * 1000 + trial })
        results.push(result)
        onResult?.(result)
      }
    })
  )
  return results.sort((a, b) => a.trial - b.trial)
}
