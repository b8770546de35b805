/**
 * Crash safety: `medallion apply` SIGKILLed at random moments (seeded) while a multi-batch
 * incremental project lands in steps, then applied again to completion. Whatever was killed when,
 * the warehouse must end up as one clean apply of all files would leave it: gold equal to the
 * reference, each file ingested once, each batch consumed once, every succeeded table's rows
 * accounted for, killed runs marked crashed and their stale locks taken over.
 *
 * Sized for CI: 6 files of 3,000 lines. An apply still takes 1-2 s on two cores (most of it is
 * start-up and per-table work, not rows), so kills land mid-run; the test's cost is the processes
 * it starts, about five a trial. The suite runs 8 trials under Node and 4 under Deno (the longest
 * file of either suite at 20); `.ci/run --full` runs 40 and 10, and bench/crash.ts runs the same trials on
 * 20,000-line files as a longer soak. MEDALLION_CRASH_TRIALS and MEDALLION_CRASH_SEED change the
 * trial count and the seed.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "@effect/vitest"
import { afterAll, assert } from "vitest"
import { buildReference, type CrashProject, generate, killWindow, runTrials, summarize, summaryLine } from "../support/crash.ts"

const trials = Number(process.env["MEDALLION_CRASH_TRIALS"] ?? ("Deno" in globalThis ? 4 : 8))
const seed = Number(process.env["MEDALLION_CRASH_SEED"] ?? 1)

describe("medallion apply killed at random moments", () => {
  const root = mkdtempSync(join(tmpdir(), "medallion-crash-test-"))
  let reference: CrashProject | undefined
  afterAll(() => {
    reference?.remove()
    rmSync(root, { recursive: true, force: true })
  })

  it(`ends with the same warehouse as one clean apply (${trials} trials)`, { timeout: 300_000 }, async () => {
    const dataset = generate(join(root, "stash"), { count: 6, rows: 3_000, seed })
    const ref = await buildReference(dataset, root)
    reference = ref.project
    const results = await runTrials(
      trials,
      2,
      {
        dataset,
        reference: ref,
        root,
        window: killWindow(ref),
        pastStartup: 0.75,
        rekill: 0.1,
        maxKillsPerStep: 3,
        threeSteps: 0.25
      },
      seed
    )
    const summary = summarize(results)
    console.log(summaryLine(summary))
    assert.deepStrictEqual(summary.failures, [])
    assert.strictEqual(summary.trials, trials)
    assert.isAbove(summary.killsHoldingLock, 0, "no kill landed while an apply held the lock; the kill window is off")
    assert.isAbove(summary.takeovers, 0, "no stale lock was taken over")
  })
})
