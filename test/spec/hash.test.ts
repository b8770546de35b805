import { assert, describe, it } from "@effect/vitest"
import { hash } from "../../src/spec/hash.ts"

describe("hash", () => {
  // Pinned: every stored table fingerprint is made of these, so a different value for the same
  // text would rebuild every table of every warehouse once.
  it("gives the values fingerprints were stored with", () => {
    assert.strictEqual(hash(""), "811c9dc5010001929e3779bb85ebca68")
    assert.strictEqual(hash("silver.orders"), "4308f00d0831d0f947ebd0d60403c8fd")
    assert.strictEqual(hash("SELECT 1 AS x"), "c5a1ee237db677817fed2a5e379e674d")
    assert.strictEqual(hash("é€😀"), "437a8821e9fe27723ba5e1868f16c152")
  })

  it("tells apart texts that differ in one character", () => {
    assert.notStrictEqual(hash("SELECT 1 AS x"), hash("SELECT 2 AS x"))
    assert.strictEqual(hash("x".repeat(10_000)).length, 32)
  })
})
