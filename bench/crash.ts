/**
 * Crash soak: the trials of test/e2e/crash.test.ts, as many as you like, on bigger files.
 *
 *   node bench/crash.ts [--trials N] [--rows ROWS_PER_FILE] [--files N] [--seed S] [--concurrency C] [--keep]
 *
 * Prints one line per trial and a summary line; exits 1 if any trial found a failure. With --keep,
 * the project of a failed trial is kept for inspection.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { buildReference, generate, killWindow, runTrials, summarize, summaryLine } from "../test/support/crash.ts"

const { values: flags } = parseArgs({
  options: {
    trials: { type: "string", default: "50" },
    rows: { type: "string", default: "20000" },
    files: { type: "string", default: "6" },
    seed: { type: "string", default: "7" },
    concurrency: { type: "string", default: "2" },
    rekill: { type: "string", default: "0.3" },
    keep: { type: "boolean", default: false }
  }
})
const trials = Number(flags.trials)
const seed = Number(flags.seed)
const root = mkdtempSync(join(tmpdir(), "medallion-crash-soak-"))
const started = performance.now()
const dataset = generate(join(root, "stash"), { count: Number(flags.files), rows: Number(flags.rows), seed })
const reference = await buildReference(dataset, root)
console.log(
  `reference: ${dataset.files.length} files, ${dataset.files.reduce((a, f) => a + f.lines, 0).toLocaleString("en-US")} lines, ` +
    `apply ${Math.round(reference.applyMs)} ms (lock taken at ${Math.round(reference.lockMs)} ms)`
)
const results = await runTrials(
  trials,
  Number(flags.concurrency),
  {
    dataset,
    reference,
    root,
    keep: flags.keep,
    window: killWindow(reference),
    pastStartup: 0.75,
    rekill: Number(flags.rekill),
    maxKillsPerStep: 3,
    threeSteps: 0.5
  },
  seed,
  (r) => {
    console.log(
      `trial ${r.trial}: steps ${r.steps.join("+")}, ${r.kills} kill(s) at ${r.killTimes.join(", ") || "-"} ms, ` +
        `${r.takeovers} takeover(s), runs ${JSON.stringify(r.runs)}${r.failures.length === 0 ? "" : `\n  FAILED: ${r.failures.join("\n  FAILED: ")}`}`
    )
  }
)
const summary = summarize(results)
console.log(`${summaryLine(summary)} in ${Math.round((performance.now() - started) / 1000)} s`)
for (const failure of summary.failures) console.log(`  ${failure}`)
if (!flags.keep || summary.failures.length === 0) rmSync(root, { recursive: true, force: true })
else console.log(`kept ${root}`)
process.exitCode = summary.failures.length === 0 ? 0 : 1
