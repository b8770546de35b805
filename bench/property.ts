/**
 * The incremental property of test/property/incremental.test.ts, as many cases as you like: the same
 * generator, so a seed gives the cases of the test's stream of that seed, in order (the test runs
 * 110 of seed 16 and 110 of seed 17), each run through the real engine in-process like the test
 * does (applied arrival by arrival, a full refresh in place, a full refresh of the final files into
 * a fresh warehouse, all compared with the model). BENCHMARKS.md has the figures.
 *
 *   node bench/property.ts [--cases 2000] [--seed 16] [--concurrency 1] [--only I]
 *
 * `--concurrency C` runs C cases at once (each on its own warehouses). A failing case is printed with
 * its index, as YAML and files, and what differs; `--only I` runs case I alone (0-based) to chase
 * it. Prints a line every 100 cases and a summary (cases, applies, failures, cases/s, CPU per case);
 * exits 1 if any case failed.
 */
import { availableParallelism } from "node:os"
import { parseArgs } from "node:util"
import { Effect, References } from "effect"
import fc from "fast-check"
import { caseArbitrary, everything } from "../test/property/arbitraries.ts"
import { describeCase, differences, runCase } from "../test/property/driver.ts"

const { values: flags } = parseArgs({
  options: {
    cases: { type: "string", default: "2000" },
    seed: { type: "string", default: "16" },
    concurrency: { type: "string", default: "1" },
    only: { type: "string" }
  }
})
const seed = Number(flags.seed)
const only = flags.only === undefined ? undefined : Number(flags.only)
const count = only === undefined ? Number(flags.cases) : only + 1
const concurrency = Math.max(1, Number(flags.concurrency))

// fc.sample draws the values fc.assert would, in the same order, for the same seed.
const cases = fc
  .sample(caseArbitrary(everything), { seed, numRuns: count })
  .map((c, index) => ({ c, index }))
  .slice(only ?? 0)

let done = 0
let applies = 0
const failed: Array<number> = []
const started = performance.now()
const cpuStart = process.cpuUsage()
const cpuMs = () => {
  const used = process.cpuUsage(cpuStart)
  return (used.user + used.system) / 1000
}
const progress = () => {
  const seconds = (performance.now() - started) / 1000
  return (
    `${done} cases, ${applies} applies, ${failed.length} failed, ${(done / seconds).toFixed(2)} cases/s, ` +
    `${((seconds * 1000) / Math.max(1, done)).toFixed(0)} ms wall and ${(cpuMs() / Math.max(1, done)).toFixed(0)} ms CPU per case`
  )
}

const check = ({ c, index }: (typeof cases)[number]) =>
  Effect.gen(function* () {
    const observed = yield* runCase(c, { sourceRow: true }).pipe(Effect.result)
    const found = observed._tag === "Failure" ? [`the case did not run: ${String(observed.failure)}`] : observed.success.flatMap(differences)
    done++
    applies += c.arrivals.length + 2
    if (found.length > 0) {
      failed.push(index)
      const errors = observed._tag === "Success" ? observed.success.flatMap((o) => o.errors) : []
      console.log(`case ${index} (seed ${seed}) FAILED:\n${describeCase(c)}\n${[...found, ...errors].join("\n")}\n`)
    }
    if (done % 100 === 0) console.log(progress())
  })

// Table outcomes and the failures the model expects are logged; a failing case prints its own errors.
await Effect.runPromise(Effect.forEach(cases, check, { concurrency, discard: true }).pipe(Effect.provideService(References.MinimumLogLevel, "None")))

console.log(`seed ${seed}, concurrency ${concurrency} (${availableParallelism()} CPUs): ${progress()}`)
if (failed.length > 0) console.log(`failed cases: ${failed.join(", ")} (node bench/property.ts --seed ${seed} --only I)`)
process.exitCode = failed.length === 0 ? 0 : 1
