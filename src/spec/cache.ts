/**
 * Decoded pipeline files kept between runs, like dbt's partial parsing: a file whose text has not
 * changed is not parsed and decoded again (YAML parsing and Schema decoding are most of a no-op
 * apply's own work). One entry per file under `<storage>/cache/`, holding a hash of the text, the
 * decoded spec and the positions of its tables; the YAML is parsed again only to position a
 * problem elsewhere. Only a built CLI uses it: its build id (set by the bundler) is part of every
 * entry, so code that decodes differently never reads an older entry. A missing, unreadable or
 * foreign entry is a miss; entries are replaced atomically; failing to write one costs only time.
 */
import { Effect, FileSystem, Option, Path, Schema } from "effect"
import { hash } from "./hash.ts"
import { layers, type Pipeline } from "./Pipeline.ts"
import { locatorFor, type ParsedPipeline } from "./parse.ts"

declare global {
  // Replaced with a literal by the bundler (rolldown.config.ts); undefined when running the sources.
  var __MEDALLION_BUILD__: string | undefined
}

/** The build of the running CLI, or undefined when running from sources (no cache then). */
export const currentBuild: string | undefined = globalThis.__MEDALLION_BUILD__

export interface SpecCache {
  readonly dir: string
  readonly build: string
}

const Position = Schema.Struct({ line: Schema.Number, column: Schema.Number })
const Entry = Schema.Struct({
  build: Schema.String,
  file: Schema.String,
  hash: Schema.String,
  /** Not decoded again: written from a successful decode of the text whose hash it carries, by this build. */
  spec: Schema.Unknown,
  /** `at:path` (e.g. `key:silver.orders`) -> position, for the table locations every plan asks for. */
  positions: Schema.Record(Schema.String, Position)
})
const decodeEntry = Schema.decodeUnknownOption(Schema.fromJsonString(Entry))

const positionKey = (path: ReadonlyArray<string | number>, at: "key" | "value") => `${at}:${path.join(".")}`

const entryFile = (cache: SpecCache, file: string) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    return path.join(cache.dir, `spec-${hash(path.resolve(file)).slice(0, 16)}.json`)
  })

/** The file's decoded pipeline if the cache holds it for this very text and build. */
export const cached = (cache: SpecCache, file: string, text: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const raw = yield* fs.readFileString(yield* entryFile(cache, file)).pipe(Effect.option)
    const entry = Option.flatMap(raw, decodeEntry)
    if (Option.isNone(entry) || entry.value.build !== cache.build || entry.value.file !== file || entry.value.hash !== hash(text)) {
      return Option.none<ParsedPipeline>()
    }
    const { positions, spec } = entry.value
    const locate = locatorFor(file, text)
    const problemAt: ParsedPipeline["problemAt"] = (path, message, at = "value") => {
      const known = positions[positionKey(path, at)]
      return known === undefined ? locate(path, message, at) : { file, message, ...known }
    }
    return Option.some<ParsedPipeline>({ file, spec: spec as Pipeline, problemAt })
  })

/** Keeps a freshly decoded pipeline for the next run; never fails. */
export const keep = (cache: SpecCache, parsed: ParsedPipeline, text: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const positions: Record<string, { readonly line: number; readonly column: number }> = {}
    for (const layer of layers) {
      for (const name of Object.keys(parsed.spec[layer] ?? {})) {
        const { line, column } = parsed.problemAt([layer, name], "", "key")
        positions[positionKey([layer, name], "key")] = { line, column }
      }
    }
    const target = yield* entryFile(cache, parsed.file)
    const draft = `${target}.${globalThis.process?.pid ?? 0}.tmp`
    yield* fs.makeDirectory(cache.dir, { recursive: true })
    yield* fs.writeFileString(draft, JSON.stringify({ build: cache.build, file: parsed.file, hash: hash(text), spec: parsed.spec, positions }))
    yield* fs.rename(draft, target)
  }).pipe(Effect.ignore)
