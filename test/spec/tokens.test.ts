/** Where a word is written inside one value of a pipeline file. */
import { assert, describe, it } from "@effect/vitest"
import { containsWord, wordPosition } from "../../src/spec/tokens.ts"
import { locate } from "./positions.ts"

const text = `version: 1
pipeline: shop
silver:
  orders:
    transforms:
      - filter: "amount > 0 AND amout < 10"
      - cast: { amount: "decmal(10,2)" }
gold:
  totals:
    sql: |
      SELECT country,
             sum(amont) AS total
      FROM {{ silver.orders }}
`

describe("wordPosition", () => {
  it("finds a whole word inside a quoted, a flow and a block value, ignoring case", () => {
    assert.deepStrictEqual(wordPosition(text, ["silver", "orders", "transforms", 0, "filter"], "amout"), locate(text, "amout"))
    assert.deepStrictEqual(wordPosition(text, ["silver", "orders", "transforms", 1, "cast", "amount"], "DECMAL"), locate(text, "decmal"))
    assert.deepStrictEqual(wordPosition(text, ["gold", "totals", "sql"], "amont"), locate(text, "amont"))
  })

  it("does not match inside a longer name, and gives nothing for a word or path that is not there", () => {
    assert.isUndefined(wordPosition(text, ["silver", "orders", "transforms", 0, "filter"], "amoun"))
    assert.isUndefined(wordPosition(text, ["silver", "orders", "transforms", 5], "amout"))
    assert.isFalse(containsWord("positive_amount > 0", "amount"))
    assert.isTrue(containsWord("id IS NOT NUL", "NUL"))
    assert.isTrue(containsWord("amount ||", "||"))
  })
})
