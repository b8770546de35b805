/** The engine's reasons, in a person's words: DuckDB's messages as it writes them, and the word each is about. */
import { assert, describe, it } from "@effect/vitest"
import { binderReason } from "../../src/runtime/binderReason.ts"

describe("binderReason", () => {
  it("names a missing column with the closest one the part can read, never medallion's own", () => {
    const detail = `Binder Error: Referenced column "amout" not found in FROM clause!\nCandidate bindings: "__medallion_removed", "amount", "_batch_id"\n\nLINE 1: SELECT amout FROM x\n               ^`
    assert.deepStrictEqual(binderReason(detail), { message: `column "amout" does not exist; did you mean amount?`, token: "amout" })
    // The part's own columns, when known, decide: here nothing is close, so they are listed.
    assert.deepStrictEqual(binderReason(detail, ["id", "__medallion_removed", "country"]), { message: `column "amout" does not exist (its columns: id, country)`, token: "amout" })
  })

  it("reads the other ways DuckDB says a column is missing", () => {
    const forms = [
      `Binder Error: Table "s" does not have a column named "custmer_id"\n\nCandidate bindings: : "s.customer_id"`,
      `Binder Error: Column "custmer_id" in EXCLUDE list not found in FROM clause`,
      `Binder Error: Column "custmer_id" in REPLACE list not found in FROM clause`,
      `Binder Error: Referenced column custmer_id not found in FROM clause and can't find in alias map.`
    ]
    for (const detail of forms) assert.strictEqual(binderReason(detail, ["customer_id"]).message, `column "custmer_id" does not exist; did you mean customer_id?`, detail)
  })

  it("says which type, function or table does not exist", () => {
    assert.deepStrictEqual(binderReason(`Catalog Error: Type with name decmal does not exist!\nDid you mean "decimal"?\n\nLINE 1: ...`), {
      message: `type "decmal" does not exist; did you mean decimal?`,
      token: "decmal"
    })
    assert.deepStrictEqual(binderReason(`Catalog Error: Scalar Function with name sume does not exist!\nDid you mean "sum"?`), {
      message: `function "sume" does not exist; did you mean sum?`,
      token: "sume"
    })
    assert.deepStrictEqual(binderReason(`Catalog Error: Table with name evnts does not exist!\nDid you mean "__stage_silver_x"?`, undefined, ["bronze.events", "silver.orders"]), {
      message: `table "evnts" does not exist; did you mean {{ bronze.events }}? (a pipeline's tables are read as {{ layer.table }})`,
      token: "evnts"
    })
  })

  it("keeps a syntax error's word, and says when an expression ends too early", () => {
    assert.deepStrictEqual(binderReason(`Parser Error: syntax error at or near "NUL"\n\nLINE 1: ...`), { message: `syntax error at or near "NUL"`, token: "NUL" })
    assert.strictEqual(binderReason(`Parser Error: syntax error at end of input`).token, undefined)
    assert.match(binderReason(`Parser Error: syntax error at end of input`).message, /ends too early/)
    assert.deepStrictEqual(binderReason(`Catalog Error: Scalar Function with name ||__postfix does not exist!\nDid you mean "!__postfix"?`), {
      message: "syntax error: nothing after || (the expression ends too early)",
      token: undefined
    })
  })

  it("says what a function takes when given other types, and what a grouped query needs", () => {
    const detail = `Binder Error: No function matches the given name and argument types 'upper(BIGINT)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tupper(VARCHAR) -> VARCHAR\n\n\nLINE 1: ...`
    assert.deepStrictEqual(binderReason(detail), { message: "upper() takes other types than upper(BIGINT) (it takes upper(VARCHAR)); cast the argument", token: "upper" })
    const grouped = `Binder Error: column "id" must appear in the GROUP BY clause or must be part of an aggregate function.\nEither add it to the GROUP BY list, or use "ANY_VALUE(id)" if the exact value of "id" is not important.`
    assert.strictEqual(binderReason(grouped).token, "id")
    assert.match(binderReason(grouped).message, /^column "id" is neither grouped by nor inside an aggregate function/)
  })

  it("keeps any other message as the engine wrote it, without the SQL it quotes", () => {
    assert.deepStrictEqual(binderReason(`Binder Error: DECIMAL type width must be between 1 and 38\n\nLINE 1: SELECT CAST(x AS DECIMAL(50,2))\n                 ^`), {
      message: "Binder Error: DECIMAL type width must be between 1 and 38",
      token: undefined
    })
  })
})
