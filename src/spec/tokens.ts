/**
 * Where a word is written inside one value of a pipeline file: the line and column of a column
 * name in a `filter`, of a type in a `cast`, of the token near a syntax error in a multi-line
 * `sql:`. Pure. Positions of whole keys and values are parse.ts's; this only looks inside a value.
 */
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from "yaml"
import type { YamlPath } from "./parse.ts"

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The offset of `word` in `source` as a whole word (not inside a longer name), ignoring case; -1 if absent. */
const wordIndex = (source: string, word: string): number => {
  const before = /^\w/.test(word) ? "(?<![A-Za-z0-9_])" : ""
  const after = /\w$/.test(word) ? "(?![A-Za-z0-9_])" : ""
  return new RegExp(`${before}${escapeRegex(word)}${after}`, "i").exec(source)?.index ?? -1
}

/** Whether `word` is in `text` as a whole word, ignoring case. */
export const containsWord = (text: string, word: string): boolean => wordIndex(text, word) >= 0

/**
 * The position (1-based line and column) of the first whole-word `word` inside the value at `path`
 * of a YAML text, as written (quotes and block scalars included); undefined when the value or the
 * word is not there.
 */
export const wordPosition = (text: string, path: YamlPath, word: string): { readonly line: number; readonly column: number } | undefined => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false })
  let node: unknown = doc.contents
  for (const segment of path) {
    if (isMap(node)) node = node.items.find((pair) => isScalar(pair.key) && pair.key.value === segment)?.value
    else if (isSeq(node) && typeof segment === "number") node = node.items[segment]
    else return undefined
  }
  if (!isNode(node) || !node.range) return undefined
  const [start, end] = node.range
  const at = wordIndex(text.slice(start, end), word)
  if (at < 0) return undefined
  const { line, col } = lines.linePos(start + at)
  return { line, column: col }
}
