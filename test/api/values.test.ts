/**
 * How gold values are written in the API's JSON (src/api/values.ts), from the text the engine
 * gives: column types parsed, integers by size, decimals by significant digits, ISO 8601 times.
 */
import { assert, describe, it } from "@effect/vitest"
import { dateValue, decimalValue, integerValue, parseType, shapeRows, timestampValue } from "../../src/api/values.ts"

describe("gold values in JSON", () => {
  it("parses the catalog's column types, nested ones too, and leaves unknown ones as they are", () => {
    assert.deepStrictEqual(parseType("BIGINT"), { _tag: "Integer" })
    assert.deepStrictEqual(parseType("DECIMAL(18,2)"), { _tag: "Decimal" })
    assert.deepStrictEqual(parseType("TIMESTAMP WITH TIME ZONE"), { _tag: "Timestamp", zoned: true })
    assert.deepStrictEqual(parseType("TIMESTAMP_NS"), { _tag: "Timestamp", zoned: false })
    assert.deepStrictEqual(parseType("BIGINT[][3]"), { _tag: "List", element: { _tag: "List", element: { _tag: "Integer" } } })
    assert.deepStrictEqual(parseType(`STRUCT(a BIGINT, "b ""c""" TIMESTAMP WITH TIME ZONE, d DECIMAL(4,1)[])`), {
      _tag: "Struct",
      fields: new Map<string, unknown>([
        ["a", { _tag: "Integer" }],
        ['b "c"', { _tag: "Timestamp", zoned: true }],
        ["d", { _tag: "List", element: { _tag: "Decimal" } }]
      ]) as never
    })
    assert.deepStrictEqual(parseType("MAP(VARCHAR, HUGEINT)"), { _tag: "Map", key: { _tag: "AsIs" }, value: { _tag: "Integer" } })
    assert.deepStrictEqual(parseType("ENUM('a', 'b)')"), { _tag: "AsIs" })
    for (const odd of ["", "STRUCT(", "MAP(INTEGER)", "BIGINT[x]", "BIGINT junk(", "UNION(a INTEGER, b VARCHAR)"]) {
      assert.deepStrictEqual(parseType(odd), { _tag: "AsIs" }, odd)
    }
  })

  it("writes integers as numbers within ±(2^53 - 1) and as exact strings beyond", () => {
    assert.strictEqual(integerValue("1"), 1)
    assert.strictEqual(integerValue("-42"), -42)
    assert.strictEqual(integerValue("9007199254740991"), 9007199254740991)
    assert.strictEqual(integerValue("-9007199254740991"), -9007199254740991)
    assert.strictEqual(integerValue("9007199254740992"), "9007199254740992")
    assert.strictEqual(integerValue("-9007199254740993"), "-9007199254740993")
    assert.strictEqual(integerValue("170141183460469231731687303715884105727"), "170141183460469231731687303715884105727")
    assert.strictEqual(integerValue(7), 7)
    assert.strictEqual(integerValue(2n ** 60n), "1152921504606846976")
  })

  it("writes decimals as numbers up to 15 significant digits and as their exact text beyond", () => {
    assert.strictEqual(decimalValue("12.50"), 12.5)
    assert.strictEqual(decimalValue("-0.0000010000"), -0.000001)
    assert.strictEqual(decimalValue("999999999999999"), 999999999999999)
    assert.strictEqual(decimalValue("0.123456789012345"), 0.123456789012345)
    assert.strictEqual(decimalValue("1234567890123456.78"), "1234567890123456.78")
    assert.strictEqual(decimalValue("0.1234567890123456"), "0.1234567890123456")
    // A number with at most 15 significant digits reads back as the same decimal.
    for (const text of ["0.1", "123456789.123456", "99999999999999.9", "-12345678901.2345"]) {
      assert.strictEqual(String(decimalValue(text)), text)
    }
    assert.strictEqual(decimalValue("0.000000000000001000"), 1e-15)
  })

  it("writes dates and timestamps as ISO 8601: UTC with Z when zoned, no offset when not", () => {
    assert.strictEqual(dateValue("2024-05-02"), "2024-05-02")
    assert.strictEqual(dateValue("0044-03-15 (BC)"), "-000043-03-15")
    assert.strictEqual(dateValue("10000-01-01"), "+010000-01-01")
    const plain = timestampValue(false)
    const zoned = timestampValue(true)
    assert.strictEqual(plain("2024-05-02 00:00:00"), "2024-05-02T00:00:00")
    assert.strictEqual(plain("2024-05-02 01:02:03.123456789"), "2024-05-02T01:02:03.123456789")
    assert.strictEqual(plain("0044-03-15 (BC) 10:00:00"), "-000043-03-15T10:00:00")
    assert.strictEqual(plain("infinity"), "infinity")
    assert.strictEqual(zoned("2024-05-01 22:00:00+00"), "2024-05-01T22:00:00Z")
    assert.strictEqual(zoned("2024-05-02 00:30:00.25+02"), "2024-05-01T22:30:00.25Z")
    assert.strictEqual(zoned("2024-12-31 20:00:00-05:30"), "2025-01-01T01:30:00Z")
    assert.strictEqual(zoned("-infinity"), "-infinity")
    // What the API writes is what its timestamp filters accept, and what Date reads.
    assert.strictEqual(new Date(zoned("2024-05-02 00:30:00+02") as string).toISOString(), "2024-05-01T22:30:00.000Z")
  })

  it("shapes whole rows by column, inside lists, structs and maps too, and keeps null", () => {
    const columns = [
      { name: "n", type: "BIGINT" },
      { name: "d", type: "DECIMAL(10,2)" },
      { name: "x", type: "DOUBLE" },
      { name: "l", type: "BIGINT[]" },
      { name: "s", type: "STRUCT(big HUGEINT, at TIMESTAMP)" },
      { name: "m", type: "MAP(VARCHAR, BIGINT)" },
      { name: "i", type: "INTERVAL" },
      { name: "v", type: "VARCHAR" },
      { name: "z", type: "BIGINT" }
    ]
    const [row] = shapeRows(columns, [
      {
        n: "1",
        d: "3.10",
        x: "NaN",
        l: ["1", null, "9007199254740993"],
        s: { big: "5", at: "2024-01-01 00:00:00" },
        m: [{ key: "k", value: "18446744073709551615" }],
        i: { months: 0, days: 3, micros: "0" },
        v: "123",
        z: null
      }
    ])
    assert.deepStrictEqual(row, {
      n: 1,
      d: 3.1,
      x: "NaN",
      l: [1, null, "9007199254740993"],
      s: { big: 5, at: "2024-01-01T00:00:00" },
      m: [{ key: "k", value: "18446744073709551615" }],
      i: { months: 0, days: 3, micros: 0 },
      v: "123",
      z: null
    })
  })
})
