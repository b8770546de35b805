/**
 * The line scanner behind set-aside lines and raw bytes, against a reference that splits the whole
 * file in memory: generated files of lines (LF or CRLF, ASCII, UTF-8 or stray bytes) read in small
 * chunks, so that many lines, `\r\n`s and multi-byte characters are cut by a chunk's edge.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { copyWithout, longLines, nonUtf8Lines } from "../../src/runtime/lines.ts"

/** The reference: physical lines of the whole file, a `\r` before `\n` left out. */
const reference = (bytes: Uint8Array) => {
  const spans: Array<{ line: number; start: number; end: number }> = []
  let start = 0
  let line = 1
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length ? i > start : bytes[i] === 10) {
      const end = i > start && bytes[i - 1] === 13 ? i - 1 : i
      spans.push({ line, start, end })
      line++
      start = i + 1
    }
  }
  return spans
}
const valid = (b: Uint8Array) => {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b)
    return true
  } catch {
    return false
  }
}

const piece = fc.oneof(
  fc
    .constantFrom("a,b", "é", "€", "𝄞", "\r", "\r\n", "\n", "\n", "\xff", "\xe9", "\xe2\x82", "x".repeat(100))
    .map((p) => Buffer.from(p, /^[^\u0100-\uffff]*$/.test(p) && !["é"].includes(p) ? "latin1" : "utf8")),
  fc.string({ maxLength: 20 }).map((p) => Buffer.from(p, "utf8"))
)
const file = fc.array(piece, { minLength: 1, maxLength: 60 }).map((pieces) => new Uint8Array(Buffer.concat(pieces)))

describe("line scanner", () => {
  it.effect(
    "finds the same long lines and non-UTF-8 lines as the reference, and copies a file without the long ones",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "medallion-lines-"))
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(file, fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 70 }), async (bytes, limit, chunk) => {
              const path = join(dir, "f.csv")
              writeFileSync(path, bytes)
              const lines = reference(bytes)
              const long = await Effect.runPromise(longLines(path, limit, chunk).pipe(Effect.provide(NodeServices.layer)))
              assert.deepStrictEqual(
                long,
                lines.filter((l) => l.end - l.start > limit)
              )
              const bad = await Effect.runPromise(nonUtf8Lines(path, chunk).pipe(Effect.provide(NodeServices.layer)))
              const expected = lines.filter((l) => !valid(bytes.subarray(l.start, l.end)))
              assert.deepStrictEqual(
                bad.map(({ line, start, end }) => ({ line, start, end })),
                expected
              )
              for (const b of bad) assert.deepStrictEqual(b.bytes, bytes.subarray(b.start, b.end))
              await Effect.runPromise(copyWithout(path, join(dir, "copy.csv"), long, chunk).pipe(Effect.provide(NodeServices.layer)))
              const kept = lines.filter((l) => l.end - l.start <= limit)
              // The copy holds the other lines, each with its own line break.
              const copy = readFileSync(join(dir, "copy.csv"))
              assert.deepStrictEqual(
                reference(copy).map((l) => Buffer.from(copy.subarray(l.start, l.end)).toString("hex")),
                kept.map((l) => Buffer.from(bytes.subarray(l.start, l.end)).toString("hex"))
              )
            }),
            { seed: 7, numRuns: 300 }
          )
        ).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
      }),
    120_000
  )
})
