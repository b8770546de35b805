/**
 * The JSON Schema document of the pipeline language, generated from the same Effect Schema that
 * decodes YAML. Objects are closed (additionalProperties: false) because the decoder rejects
 * unknown keys too, so editors flag the same mistakes `medallion validate` does.
 */
import { Schema } from "effect"
import { Pipeline } from "./Pipeline.ts"

const closeObjects = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(closeObjects)
  if (node === null || typeof node !== "object") return node
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) out[key] = closeObjects(value)
  if ("properties" in out && out["additionalProperties"] === true) out["additionalProperties"] = false
  return out
}

export const pipelineJsonSchema = (): Record<string, unknown> => {
  const document = Schema.toJsonSchemaDocument(Pipeline)
  const definitions = document.definitions as Record<string, unknown> | undefined
  return closeObjects({
    $schema: "https://json-schema.org/draft/2020-12/schema",
    ...document.schema,
    ...(definitions !== undefined && Object.keys(definitions).length > 0 ? { $defs: definitions } : {})
  }) as Record<string, unknown>
}
