/**
 * The lines of a source file that its reader cannot be given as they are, found from the file's
 * bytes through the platform FileSystem: lines longer than the source's `max_line_bytes` (the
 * reader would fail the whole file on them) and lines that are not UTF-8 (the reader keeps them as
 * rejects, but with their bytes replaced). Lines are physical: split at `\n`, a `\r` before it
 * excluded. Offsets are 0-based byte positions.
 */
import { Effect, FileSystem } from "effect"

/** A line's number (1-based) and its bytes [start, end) in the file, without its line break. */
export interface LineSpan {
  readonly line: number
  readonly start: number
  readonly end: number
}

/** Bytes read at a time (the tests read smaller chunks, to put many lines across their edges). */
const defaultChunk = 1024 * 1024
const newline = 10
const carriageReturn = 13

/**
 * Calls `onLine` for each line of the file with its span and, when `wanted` is given and says so,
 * its bytes. Reads through one reused buffer; a line's bytes are gathered only when wanted (a line
 * cut by the end of a chunk always is then, since its first part cannot tell).
 */
const eachLine = (
  path: string,
  onLine: (span: LineSpan, bytes: Uint8Array | undefined) => void,
  wanted?: (chunk: Uint8Array, from: number, to: number) => boolean,
  chunkSize = defaultChunk
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open(path)
      const buffer = new Uint8Array(chunkSize)
      let offset = 0 // file offset of buffer[0]
      let line = 1
      let start = 0
      let pieces: Array<Uint8Array> | undefined
      let lastByte: number | undefined // the last byte of the line so far
      const finish = (end: number) => {
        const contentEnd = end > start && lastByte === carriageReturn ? end - 1 : end
        onLine({ line, start, end: contentEnd }, pieces === undefined ? undefined : concat(pieces).subarray(0, contentEnd - start))
        pieces = undefined
        lastByte = undefined
      }
      for (;;) {
        const read = Number(yield* file.read(buffer))
        if (read === 0) break
        const chunk = buffer.subarray(0, read)
        let from = 0
        for (;;) {
          const at = chunk.indexOf(newline, from)
          const to = at === -1 ? read : at
          if (to > from) lastByte = chunk[to - 1]
          const gather = pieces !== undefined || (wanted !== undefined && (at === -1 || wanted(chunk, from, to)))
          if (gather) {
            pieces ??= []
            pieces.push(chunk.slice(from, to))
          }
          if (at === -1) break
          finish(offset + at)
          line++
          start = offset + at + 1
          from = at + 1
        }
        offset += read
      }
      if (offset > start) finish(offset)
    })
  )

const concat = (pieces: ReadonlyArray<Uint8Array>) => {
  if (pieces.length === 1) return pieces[0]!
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of pieces) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The file's lines longer than `limit` bytes. */
export const longLines = (path: string, limit: number, chunkSize = defaultChunk) =>
  Effect.gen(function* () {
    const long: Array<LineSpan> = []
    yield* eachLine(
      path,
      (span) => {
        if (span.end - span.start > limit) long.push(span)
      },
      undefined,
      chunkSize
    )
    return long
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })
const isUtf8 = (bytes: Uint8Array) => {
  try {
    utf8.decode(bytes)
    return true
  } catch {
    return false
  }
}

/** The file's lines that are not valid UTF-8, with their bytes. */
export const nonUtf8Lines = (path: string, chunkSize = defaultChunk) =>
  Effect.gen(function* () {
    const found: Array<LineSpan & { readonly bytes: Uint8Array }> = []
    // Most bytes are ASCII: only a line with a byte >= 0x80 is gathered and checked.
    const suspect = (chunk: Uint8Array, from: number, to: number) => {
      for (let i = from; i < to; i++) if (chunk[i]! >= 0x80) return true
      return false
    }
    yield* eachLine(
      path,
      (span, bytes) => {
        if (bytes !== undefined && !isUtf8(bytes)) found.push({ ...span, bytes })
      },
      suspect,
      chunkSize
    )
    return found
  })

/**
 * Copies `from` to `to` without the given lines (their bytes and their line break): what the
 * reader reads instead of a file with lines set aside.
 */
export const copyWithout = (from: string, to: string, lines: ReadonlyArray<LineSpan>, chunkSize = defaultChunk) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(from)
    const size = Number(info.size)
    const keep: Array<readonly [number, number]> = []
    let at = 0
    for (const l of lines) {
      keep.push([at, l.start])
      // Up to and including the line break that follows the line's content.
      at = Math.min(size, l.end + (yield* lineBreakLength(from, l.end)))
    }
    keep.push([at, size])
    yield* copyRanges(from, to, keep, chunkSize)
  })

/** Writes the bytes [start, end) of `from` to the file `to`. */
export const copyRange = (from: string, to: string, start: number, end: number) => copyRanges(from, to, [[start, end]], defaultChunk)

const lineBreakLength = (path: string, at: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open(path)
      yield* file.seek(BigInt(at), "start")
      const two = new Uint8Array(2)
      const read = Number(yield* file.read(two))
      if (read >= 1 && two[0] === newline) return 1
      if (read >= 2 && two[0] === carriageReturn && two[1] === newline) return 2
      // A \r that ends the file ends the line with it (see eachLine).
      return read === 1 && two[0] === carriageReturn ? 1 : 0
    })
  )

const copyRanges = (from: string, to: string, ranges: ReadonlyArray<readonly [number, number]>, chunkSize: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const source = yield* fs.open(from)
      const target = yield* fs.open(to, { flag: "w" })
      const buffer = new Uint8Array(chunkSize)
      for (const [start, end] of ranges) {
        yield* source.seek(BigInt(start), "start")
        let left = end - start
        while (left > 0) {
          const read = Number(yield* source.read(buffer.subarray(0, Math.min(left, chunkSize))))
          if (read === 0) break
          yield* target.writeAll(buffer.subarray(0, read))
          left -= read
        }
      }
    })
  )
