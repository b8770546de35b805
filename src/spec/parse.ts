/**
 * YAML text -> decoded Pipeline, pure. Owns turning YAML and Schema failures into problems that
 * point at file:line:col with a "did you mean" hint. Does not read files (see load.ts) and does
 * not check references between tables (see plan/).
 */
import { Result, Schema, SchemaAST, SchemaIssue } from "effect"
import { type Document, isCollection, isMap, isNode, isPair, isScalar, LineCounter, parseDocument, visit } from "yaml"
import { Pipeline } from "./Pipeline.ts"
import { type Problem, SpecError } from "./SpecError.ts"
import { didYouMean } from "./suggest.ts"

export type YamlPath = ReadonlyArray<string | number>

/** A decoded pipeline together with a way back from a spec path to its place in the file. */
export interface ParsedPipeline {
  readonly file: string
  readonly spec: Pipeline
  /** The problem at `path`, positioned at the key (`at: "key"`) or at the value. */
  readonly problemAt: (path: YamlPath, message: string, at?: "key" | "value") => Problem
}

const formatDefault = SchemaIssue.makeFormatterDefault()

/**
 * A mapping's pairs by key, indexed at its first look-up: positioning every table of a spec with
 * tens of thousands of them would otherwise scan its whole mapping each time (quadratic).
 */
const pairsByKey = new WeakMap<object, ReadonlyMap<unknown, unknown>>()
const pairOf = (collection: object, items: ReadonlyArray<unknown>, key: string): unknown => {
  let index = pairsByKey.get(collection)
  if (index === undefined) {
    const built = new Map<unknown, unknown>()
    for (const item of items) if (isPair(item) && isScalar(item.key) && !built.has(item.key.value)) built.set(item.key.value, item)
    pairsByKey.set(collection, built)
    index = built
  }
  return index.get(key)
}

const positionOf = (doc: Document, lines: LineCounter, path: YamlPath, at: "key" | "value") => {
  // Walk down as far as the document goes; report the deepest node that exists.
  let node: unknown = doc.contents
  let keyNode: unknown
  for (const segment of path) {
    if (!isMap(node) && !(isNode(node) && "items" in node)) break
    const items = (node as { items: Array<unknown> }).items
    const next = typeof segment === "number" ? items[segment] : pairOf(node, items, segment)
    if (next === undefined) break
    if (isPair(next)) {
      keyNode = next.key
      node = next.value
    } else {
      keyNode = undefined
      node = next
    }
  }
  const target = at === "key" && isNode(keyNode) ? keyNode : isNode(node) ? node : keyNode
  const offset = isNode(target) && target.range ? target.range[0] : 0
  const { line, col } = lines.linePos(offset)
  return { line, column: col }
}

const valueAt = (input: unknown, path: YamlPath): unknown =>
  path.reduce<unknown>((value, key) => (value !== null && typeof value === "object" ? (value as Record<string | number, unknown>)[key] : undefined), input)

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value)

/** What a union at this path is called, for messages such as `unknown transform "dedup"`. */
const nounFor = (path: YamlPath): string => {
  const parent = path.length >= 2 ? path[path.length - 2] : undefined
  return parent === "transforms" ? "transform" : parent === "expect" ? "expectation" : parent === "targets" ? "target" : "entry"
}

interface Found {
  readonly path: YamlPath
  readonly message: string
  readonly at: "key" | "value"
}

const firstLine = (issue: SchemaIssue.Issue) => formatDefault(issue).split("\n")[0] ?? "invalid value"

const collect = (issue: SchemaIssue.Issue, path: YamlPath, input: unknown): ReadonlyArray<Found> => {
  const last = path[path.length - 1]
  if (issue._tag !== "Pointer" && typeof last === "string" && /^[^(]*\)/.test(last)) {
    // `{ amount: decimal(12,2) }` is YAML for { amount: "decimal(12", "2)": null }.
    return [{ path, at: "key", message: `"${last}" looks like the end of a value split at its comma; quote values that contain commas inside { }, e.g. "decimal(12,2)"` }]
  }
  switch (issue._tag) {
    case "Pointer":
      return collect(issue.issue, [...path, ...(issue.path as ReadonlyArray<string | number>)], input)
    case "Composite":
      return issue.issues.flatMap((child) => collect(child, path, input))
    case "AnyOf":
      return collectUnion(issue, path, input)
    case "UnexpectedKey": {
      const key = String(path[path.length - 1])
      const known = SchemaAST.isObjects(issue.ast) ? issue.ast.propertySignatures.map((p) => String(p.name)) : []
      return [{ path, at: "key", message: `unknown key "${key}"${didYouMean(key, known)}${known.length > 0 ? ` (expected one of: ${known.join(", ")})` : ""}` }]
    }
    case "MissingKey":
      return [{ path: path.slice(0, -1), at: "key", message: `missing required key "${String(path[path.length - 1])}"` }]
    default:
      return [{ path, at: "value", message: valueMessage(issue, path, input) }]
  }
}

/** What is wrong with a value; `on_error: null` is YAML's null, not the word: said so when the word was expected. */
const valueMessage = (issue: SchemaIssue.Issue, path: YamlPath, input: unknown) => {
  const message = firstLine(issue)
  return valueAt(input, path) === null && message.includes('"null"') ? `${message}; YAML reads an unquoted null as no value: write "null" in quotes` : message
}

/** Pick the union member the user meant (by its first key) instead of reporting every member. */
const collectUnion = (issue: SchemaIssue.AnyOf, path: YamlPath, input: unknown): ReadonlyArray<Found> => {
  const value = valueAt(input, path)
  if (!isPlainObject(value)) return [{ path, at: "value", message: valueMessage(issue, path, input) }]
  const members = issue.ast.types
  const discriminators = members.flatMap((m) => (SchemaAST.isObjects(m) && m.propertySignatures.length > 0 ? [String(m.propertySignatures[0]!.name)] : []))
  const meant =
    members.find((m) => SchemaAST.isObjects(m) && m.propertySignatures.length > 0 && String(m.propertySignatures[0]!.name) in value) ??
    members.find((m) => SchemaAST.isObjects(m) && m.indexSignatures.length > 0)
  const keys = Object.keys(value)
  const present = discriminators.filter((k) => keys.includes(k))
  if (present.length > 1) {
    return [{ path: [...path, present[1]!], at: "key", message: `one ${nounFor(path)} per list item: found ${present.join(" and ")}; write each as its own "- " item` }]
  }
  const memberIssue = meant === undefined ? undefined : issue.issues.find((i) => "ast" in i && i.ast === meant)
  if (memberIssue !== undefined) return collect(memberIssue, path, input)
  // Keys every member shares (such as an expectation's name and on_fail) are not the unknown one.
  const shared = new Set(members.flatMap((m) => (SchemaAST.isObjects(m) ? m.propertySignatures.slice(1).map((p) => String(p.name)) : [])))
  const unknownKey = keys.find((k) => !discriminators.includes(k) && !shared.has(k))
  if (unknownKey === undefined) {
    return [{ path, at: "value", message: `missing the ${nounFor(path)} itself: one of ${discriminators.join(", ")}` }]
  }
  return [
    {
      path: [...path, unknownKey],
      at: "key",
      message: `unknown ${nounFor(path)} "${unknownKey}"${didYouMean(unknownKey, discriminators)} (expected one of: ${discriminators.join(", ")})`
    }
  ]
}

/** `silver.orders.transforms[0].dedupe` */
export const formatPath = (path: YamlPath): string => path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("")

export interface ParsedYaml<A> {
  readonly file: string
  readonly value: A
  readonly problemAt: ParsedPipeline["problemAt"]
}

/**
 * Keys repeated within one mapping, at each repetition. In place of yaml's own check
 * (`uniqueKeys`), which compares every key with each earlier one of its mapping: quadratic in the
 * size of a mapping, minutes for a spec with tens of thousands of tables.
 */
const duplicateKeys = (doc: Document): ReadonlyArray<{ readonly offset: number; readonly key: string }> => {
  const found: Array<{ readonly offset: number; readonly key: string }> = []
  visit(doc, {
    Map: (_, map) => {
      const seen = new Set<unknown>()
      for (const { key } of map.items) {
        if (!isScalar(key)) continue
        if (seen.has(key.value)) found.push({ offset: key.range?.[0] ?? 0, key: String(key.value) })
        seen.add(key.value)
      }
    }
  })
  return found
}

/**
 * How far a file's aliases (`*name`) may expand, counted as the yaml library counts it (the uses
 * of an anchor times the aliases inside it). An anchor used once per table of a large file stays
 * well below it; aliases nested in aliases (`&b [*a, *a, ...]`, ten levels deep: billions of
 * values from a few hundred bytes) stop at once instead of exhausting memory.
 */
const maxAliasCount = 10_000

/** The first alias whose anchor holds aliases itself: where an expansion grows without bound. */
const nestedAlias = (doc: Document): number => {
  let first: number | undefined
  let nested: number | undefined
  visit(doc, {
    Alias: (_, alias) => {
      const offset = alias.range?.[0] ?? 0
      first ??= offset
      const target = alias.resolve(doc)
      let inner = false
      if (isCollection(target)) {
        visit(target, {
          Alias: () => {
            inner = true
            return visit.BREAK
          }
        })
      }
      if (inner) {
        nested = offset
        return visit.BREAK
      }
    }
  })
  return nested ?? first ?? 0
}

/**
 * The plain value of a parsed document, with aliases expanded at most `maxAliasCount` times; the
 * offset of the offending alias when they would expand further.
 */
const toPlain = (doc: Document): Result.Result<unknown, { readonly offset: number; readonly message: string }> => {
  try {
    return Result.succeed(doc.toJS({ maxAliasCount }) as unknown)
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error
    return Result.fail({
      offset: nestedAlias(doc),
      message: /excessive alias/i.test(error.message)
        ? `YAML: aliases expand too far (more than ${maxAliasCount} expansions: an alias inside an anchor that is itself repeated grows exponentially); write the values out or use fewer nested aliases`
        : `YAML: ${error.message}`
    })
  }
}

/** A single YAML value such as an environment variable's (`4`, `true`, `[a, b]`); text that is not YAML stays text. */
export const yamlValue = (text: string): unknown => {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) return text
  const value = toPlain(doc)
  return Result.isSuccess(value) ? value.success : text
}

/** Schema problems of a plain value as (path, message) pairs, for inputs that are not YAML files. */
export const describeIssues = (issue: SchemaIssue.Issue, input: unknown): ReadonlyArray<{ readonly path: YamlPath; readonly message: string }> => collect(issue, [], input)

/**
 * Parse YAML and decode it with `schema`; every problem is positioned in the file. `prepare`
 * may rewrite the plain value first (config interpolation) and report its own problems.
 */
export const decodeYaml = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  file: string,
  text: string,
  prepare: (input: unknown, problemAt: ParsedPipeline["problemAt"]) => Result.Result<unknown, ReadonlyArray<Problem>> = Result.succeed
): Result.Result<ParsedYaml<S["Type"]>, SpecError> => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false })
  const problemAt = (path: YamlPath, message: string, at: "key" | "value" = "value"): Problem => ({
    file,
    message,
    ...positionOf(doc, lines, path, at)
  })
  const duplicates = duplicateKeys(doc)
  if (doc.errors.length > 0 || duplicates.length > 0) {
    return Result.fail(
      new SpecError({
        problems: [
          ...doc.errors.map((e) => {
            const { line, col } = lines.linePos(e.pos[0])
            return { file, line, column: col, message: `YAML: ${e.message.split("\n")[0]} (check the indentation and quoting around here)` }
          }),
          ...duplicates.map(({ offset, key }) => {
            const { line, col } = lines.linePos(offset)
            return { file, line, column: col, message: `YAML: Map keys must be unique; "${key}" is already a key of this mapping` }
          })
        ]
      })
    )
  }
  const plain = toPlain(doc)
  if (Result.isFailure(plain)) {
    const { line, col } = lines.linePos(plain.failure.offset)
    return Result.fail(new SpecError({ problems: [{ file, line, column: col, message: plain.failure.message }] }))
  }
  const raw: unknown = plain.success ?? {}
  if (!isPlainObject(raw)) return Result.fail(new SpecError({ problems: [problemAt([], "expected a YAML mapping (key: value lines)")] }))
  const prepared = prepare(raw, problemAt)
  if (Result.isFailure(prepared)) return Result.fail(new SpecError({ problems: prepared.failure }))
  const input = prepared.success
  const decoded = Schema.decodeUnknownResult(schema)(input, { errors: "all", onExcessProperty: "error" })
  if (Result.isFailure(decoded)) {
    const seen = new Set<string>()
    const problems = collect(decoded.failure.issue, [], input)
      .map((f) => problemAt(f.path, f.path.length > 0 ? `${formatPath(f.path)}: ${f.message}` : f.message, f.at))
      .filter((p) => !seen.has(p.message) && seen.add(p.message) !== undefined)
    return Result.fail(new SpecError({ problems }))
  }
  return Result.succeed({ file, value: decoded.success, problemAt })
}

/**
 * Positions in a file's text for a spec decoded earlier (cache.ts): the YAML is parsed only when a
 * problem must be positioned.
 */
export const locatorFor = (file: string, text: string): ParsedPipeline["problemAt"] => {
  let parsed: { readonly doc: Document; readonly lines: LineCounter } | undefined
  return (path, message, at = "value") => {
    if (parsed === undefined) {
      const lines = new LineCounter()
      parsed = { doc: parseDocument(text, { lineCounter: lines, uniqueKeys: false }), lines }
    }
    return { file, message, ...positionOf(parsed.doc, parsed.lines, path, at) }
  }
}

/** Parse and decode one pipeline file's text. */
export const parsePipeline = (file: string, text: string): Result.Result<ParsedPipeline, SpecError> =>
  Result.map(decodeYaml(Pipeline, file, text), ({ value, problemAt }) => ({ file, spec: value, problemAt }))
