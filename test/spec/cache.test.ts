/** The spec cache: unchanged files are read back decoded, anything else is parsed again. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { buildPlan } from "../../src/plan/Plan.ts"
import type { SpecCache } from "../../src/spec/cache.ts"
import { loadPipelines } from "../../src/spec/load.ts"
import { parsePipeline } from "../../src/spec/parse.ts"

const examples = ["pipelines/retail_orders.yaml", "pipelines/jaffle_shop.yaml"]

/** A scratch cache directory and a copy of a pipeline file, removed afterwards. */
const inDir = <A, E>(body: (dir: string) => Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "medallion-cache-"))),
    body,
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.provide(NodeServices.layer))

const planOf = (files: ReadonlyArray<string>, cache?: SpecCache) =>
  Effect.map(loadPipelines(files, cache), (parsed) => {
    const plan = buildPlan(parsed)
    assert.isTrue(Result.isSuccess(plan))
    return Result.getOrThrow(plan)
  })

describe("spec cache", () => {
  it.effect("a plan from cached files equals the plan from parsing them, locations included", () =>
    inDir((dir) =>
      Effect.gen(function* () {
        const cache = { dir: join(dir, "cache"), build: "b1" }
        const fresh = yield* planOf(examples)
        const writing = yield* planOf(examples, cache)
        assert.strictEqual(readdirSync(cache.dir).length, examples.length)
        const reading = yield* planOf(examples, cache)
        for (const plan of [writing, reading]) {
          assert.deepStrictEqual(plan.order, fresh.order)
          assert.deepStrictEqual(JSON.parse(JSON.stringify([...plan.nodes])), JSON.parse(JSON.stringify([...fresh.nodes])))
        }
        assert.include(reading.nodes.get("gold.daily_revenue" as never)?.location ?? "", "pipelines/retail_orders.yaml:")
      })
    )
  )

  it.effect("reads an entry only for the same text and build; problems elsewhere are still positioned", () =>
    inDir((dir) =>
      Effect.gen(function* () {
        const file = join(dir, "shop.yaml")
        const text = "version: 1\npipeline: shop\nsources: { orders: { format: csv, path: data/*.csv } }\nbronze:\n  orders: { from: orders }\n"
        writeFileSync(file, text)
        const cache = { dir: join(dir, "cache"), build: "b1" }
        yield* loadPipelines([file], cache)
        // Mark the entry, so that a hit is visible: the description comes from the cache, not the file.
        const [name] = readdirSync(cache.dir)
        const entryPath = join(cache.dir, name!)
        const entry = JSON.parse(readFileSync(entryPath, "utf8"))
        entry.spec.description = "from the cache"
        writeFileSync(entryPath, JSON.stringify(entry))
        const [hit] = yield* loadPipelines([file], cache)
        assert.strictEqual(hit!.spec.description, "from the cache")
        // A position the entry does not hold is found by parsing the text.
        const fresh = Result.getOrThrow(parsePipeline(file, text))
        assert.deepStrictEqual(hit!.problemAt(["sources", "orders", "path"], "x"), fresh.problemAt(["sources", "orders", "path"], "x"))
        assert.strictEqual(hit!.problemAt(["sources", "orders", "path"], "x").line, 3)

        const [otherBuild] = yield* loadPipelines([file], { ...cache, build: "b2" })
        assert.isUndefined(otherBuild!.spec.description)
        writeFileSync(entryPath, JSON.stringify(entry))
        writeFileSync(file, `${text}description: edited\n`)
        const [edited] = yield* loadPipelines([file], cache)
        assert.strictEqual(edited!.spec.description, "edited")
        writeFileSync(entryPath, "{ not json")
        const [corrupt] = yield* loadPipelines([file], cache)
        assert.strictEqual(corrupt!.spec.description, "edited")
        assert.strictEqual(JSON.parse(readFileSync(entryPath, "utf8")).spec.description, "edited", "the entry is written again")
      })
    )
  )

  it.effect("a file that does not decode is never cached", () =>
    inDir((dir) =>
      Effect.gen(function* () {
        const file = join(dir, "bad.yaml")
        writeFileSync(file, "version: 1\npipeline: shop\nbronze: { orders: { from: nowhere, modee: append } }\n")
        const cache = { dir: join(dir, "cache"), build: "b1" }
        const error = yield* Effect.flip(loadPipelines([file], cache))
        assert.strictEqual(error._tag, "SpecError")
        assert.deepStrictEqual(readdirSync(dir), ["bad.yaml"])
      })
    )
  )
})
