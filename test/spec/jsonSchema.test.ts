/** pipelineJsonSchema: the editor's view of the language, closed like the decoder. */
import { assert, describe, it } from "@effect/vitest"
import { pipelineJsonSchema } from "../../src/spec/jsonSchema.ts"
import { expectationKinds, Mode, stepKinds } from "../../src/spec/Pipeline.ts"

type Json = Record<string, unknown>

const object = (value: unknown, where: string): Json => {
  assert.isObject(value, `${where} is not an object schema`)
  return value as Json
}

/** Follows property names and `additionalProperties` / `items` through the document. */
const at = (schema: Json, path: ReadonlyArray<string>): Json =>
  path.reduce<Json>((node, key) => {
    if (key === "*") return object(node["additionalProperties"], `additionalProperties of ${path.join(".")}`)
    if (key === "[]") return object(node["items"], `items of ${path.join(".")}`)
    return object(object(node["properties"], `properties at ${key}`)[key], `${path.join(".")} (${key})`)
  }, schema)

/** The members of a union of one-key objects, by that key. */
const membersByKey = (union: Json): Map<string, Json> => {
  const members = union["anyOf"] as ReadonlyArray<Json> | undefined
  if (!Array.isArray(members)) assert.fail(`expected an anyOf, got ${JSON.stringify(union)}`)
  return new Map(
    members.map((m) => {
      const required = m["required"] as ReadonlyArray<string>
      return [required[0]!, m]
    })
  )
}

/** Every object schema that lists properties, with where it is. */
const objectsWithProperties = (node: unknown, where = "#"): Array<[string, Json]> => {
  if (Array.isArray(node)) return node.flatMap((n, i) => objectsWithProperties(n, `${where}/${i}`))
  if (node === null || typeof node !== "object") return []
  const own: Array<[string, Json]> = "properties" in node ? [[where, node as Json]] : []
  return [...own, ...Object.entries(node).flatMap(([k, v]) => objectsWithProperties(v, `${where}/${k}`))]
}

describe("pipelineJsonSchema", () => {
  const schema = pipelineJsonSchema()

  it("is a draft 2020-12 document for a mapping with version and pipeline required", () => {
    assert.strictEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
    assert.strictEqual(schema["type"], "object")
    assert.includeMembers(schema["required"] as Array<string>, ["version", "pipeline"])
    assert.deepStrictEqual(Object.keys(object(schema["properties"], "properties")).toSorted(), [
      "$schema",
      "bronze",
      "description",
      "gold",
      "pipeline",
      "retry",
      "schedule",
      "silver",
      "sources",
      "timeout",
      "version"
    ])
  })

  it("rejects extra properties at the top, in sources, tables and steps", () => {
    assert.strictEqual(schema["additionalProperties"], false)
    assert.strictEqual(at(schema, ["sources", "*"])["additionalProperties"], false)
    assert.strictEqual(at(schema, ["bronze", "*"])["additionalProperties"], false)
    assert.strictEqual(at(schema, ["silver", "*"])["additionalProperties"], false)
    assert.strictEqual(at(schema, ["gold", "*"])["additionalProperties"], false)
    const dedupe = membersByKey(at(schema, ["silver", "*", "transforms", "[]"])).get("dedupe")!
    assert.strictEqual(dedupe["additionalProperties"], false, "a step is one key: { dedupe: ... }")
    assert.strictEqual(at(dedupe, ["dedupe"])["additionalProperties"], false)
  })

  it("closes every object that lists its properties", () => {
    const open = objectsWithProperties(schema)
      .filter(([, o]) => o["additionalProperties"] !== false)
      .map(([where]) => where)
    assert.deepStrictEqual(open, [])
  })

  it("has every transform kind, in silver and in gold", () => {
    for (const layer of ["silver", "gold"]) {
      const steps = membersByKey(at(schema, [layer, "*", "transforms", "[]"]))
      assert.deepStrictEqual([...steps.keys()].toSorted(), [...stepKinds].toSorted())
      assert.includeMembers(
        [...stepKinds],
        ["select", "drop", "rename", "cast", "trim", "lowercase", "fill_nulls", "drop_nulls", "dedupe", "filter", "derive", "mask", "join", "aggregate", "window", "sql"]
      )
    }
  })

  it("describes the shapes inside steps and expectations", () => {
    const steps = membersByKey(at(schema, ["silver", "*", "transforms", "[]"]))
    assert.deepStrictEqual(at(steps.get("dedupe")!, ["dedupe"])["required"], ["keys"])
    assert.deepStrictEqual(at(steps.get("mask")!, ["mask", "*"])["enum"], ["hash", "redact", "partial", "null"])
    assert.isString(at(steps.get("sql")!, ["sql"])["description"])
    const expectations = membersByKey(at(schema, ["silver", "*", "expect", "[]"]))
    assert.deepStrictEqual([...expectations.keys()].toSorted(), [...expectationKinds].toSorted())
    assert.deepStrictEqual(at(expectations.get("check")!, ["on_fail"])["enum"], ["warn", "drop", "quarantine", "fail"])
    assert.deepStrictEqual(at(schema, ["silver", "*", "mode"])["enum"], [...Mode.literals])
    assert.deepStrictEqual(at(schema, ["sources", "*", "format"])["enum"], ["csv", "json", "ndjson", "parquet"])
  })
})
