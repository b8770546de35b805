/**
 * The CSV lines a bronze table's reader cannot keep exactly, handled from the files' bytes so that
 * they reach `<table>__rejects` whole: a line longer than the source's `max_line_bytes` is set
 * aside before the read (the reader is given a copy without it; it would otherwise fail the whole
 * file), and a line that is not UTF-8, which the reader rejects with its bytes replaced, gets its
 * exact bytes in `raw_bytes`.
 */
import { Effect, FileSystem, Path } from "effect"
import { type IngestFile, type LineStatements, maxLineBytes } from "../compile/ingest.ts"
import type { Session } from "../executor/Executor.ts"
import type { IngestNode } from "../plan/Plan.ts"
import { SourceError } from "./errors.ts"
import { copyRange, copyWithout, type LineSpan, longLines, nonUtf8Lines } from "./lines.ts"

const fileError = (table: string, path: string) => (e: { readonly message: string }) => new SourceError({ table, path, reason: `cannot read the file: ${e.message}` })

/**
 * Sets aside the lines longer than the source's `max_line_bytes`: each file that has some is read
 * from a copy in `scratch` without them, and each such line is added to the rejects with its
 * bytes. A header line that long fails the table: the file's columns cannot be known.
 */
export const setAsideLongLines = (
  node: IngestNode,
  lines: LineStatements,
  files: ReadonlyArray<IngestFile & { readonly size: number }>,
  scratch: Effect.Effect<string, SourceError>
) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const limit = maxLineBytes(node)
    const statements: Array<string> = []
    const read: Array<IngestFile> = []
    for (const [index, file] of files.entries()) {
      // A file no longer than the limit cannot hold a longer line.
      const long = file.size <= limit ? [] : yield* longLines(file.path, limit).pipe(Effect.mapError(fileError(node.id, file.path)))
      if (long.length === 0) {
        read.push(file)
        continue
      }
      if (node.source.options?.header !== false && long[0]!.line === 1) {
        return yield* new SourceError({
          table: node.id,
          path: file.path,
          reason:
            `line 1, the header, is ${size(long[0]!)} bytes, longer than the source's max_line_bytes (${limit}), so the file's columns cannot be read; ` +
            "check the file (a wrong line ending or delimiter makes one long line), or raise options.max_line_bytes"
        })
      }
      const dir = yield* scratch
      const copy = path.join(dir, `file-${index}.csv`)
      yield* copyWithout(file.path, copy, long).pipe(Effect.mapError(fileError(node.id, file.path)))
      for (const line of long) {
        const bytesFile = path.join(dir, `file-${index}-line-${line.line}.bin`)
        yield* copyRange(file.path, bytesFile, line.start, line.end).pipe(Effect.mapError(fileError(node.id, file.path)))
        statements.push(
          lines.setAside({
            file: file.path,
            line: line.line,
            errorType: "LINE SIZE OVER MAXIMUM",
            bytesFile,
            message: `the line is ${size(line)} bytes, longer than the source's max_line_bytes (${limit}); its bytes are in raw_bytes`
          })
        )
      }
      read.push({ ...file, copy: { path: copy, removedLines: long.map((l) => l.line) } })
    }
    return { files: read, statements }
  })

const size = (l: LineSpan) => l.end - l.start

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * Gives the rejected lines that are not UTF-8 their exact bytes: each file with such lines is read
 * again, and each rejected line is matched with the non-UTF-8 line of the file that holds the
 * reader's error position (or the next one after it).
 */
export const addRawBytes = (table: string, session: Session, lines: LineStatements, scratch: Effect.Effect<string, SourceError>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const rejected = yield* session.query(lines.encodingErrors)
    const byFile = new Map<string, Array<Readonly<Record<string, unknown>>>>()
    for (const r of rejected) byFile.set(String(r["source_file"]), [...(byFile.get(String(r["source_file"])) ?? []), r])
    let index = 0
    for (const [file, rows] of byFile) {
      const found = yield* nonUtf8Lines(file).pipe(Effect.mapError(fileError(table, file)))
      const out: Array<string> = []
      let next = 0
      for (const row of rows) {
        const at = Number(row["byte_position"]) - 1
        while (next < found.length && found[next]!.end < at) next++
        const match = found[next]
        if (match === undefined) break
        out.push(`${String(row["line"])},${hex(match.bytes)}\n`)
        next++
      }
      if (out.length === 0) continue
      const hexFile = path.join(yield* scratch, `raw-bytes-${index++}.csv`)
      yield* fs.writeFileString(hexFile, out.join("")).pipe(Effect.mapError(fileError(table, hexFile)))
      yield* session.execute(lines.addBytes(file, hexFile))
    }
  })
