/** Finds a source's files and fingerprints them (size, mtime, sha256), through the platform FileSystem. */
import { createHash } from "node:crypto"
import { Effect, FileSystem, Option, Path } from "effect"
import type { IngestedFile, LedgerFile } from "../metadata/MetadataStore.ts"
import type { IngestNode } from "../plan/Plan.ts"
import { SourceError } from "./errors.ts"

/** Hex sha256 of a file's content, read through one reused 1 MiB buffer (no garbage per chunk). */
const checksum = (path: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open(path)
      const hash = createHash("sha256")
      const buffer = new Uint8Array(1024 * 1024)
      for (;;) {
        const read = Number(yield* file.read(buffer))
        if (read === 0) return hash.digest("hex")
        hash.update(buffer.subarray(0, read))
      }
    })
  )

/** Whether a path is a glob (has `*`, `?`, `[` or `{`) rather than one file's name. */
export const hasGlobSyntax = (pattern: string) => /[*?[{]/.test(pattern)

/** A source file found on disk; `checksum` is undefined until the file is read (see withChecksums). */
export interface FoundFile {
  readonly path: string
  readonly size: number
  readonly modifiedAt: string | null
  readonly checksum: string | undefined
}

/**
 * The files matching a source's glob, sorted, with their size and modification time. A file whose
 * size and modification time match `known` keeps its known checksum (as make and rsync do, which
 * keeps a no-op run cheap); the others are hashed by withChecksums, when their content matters.
 */
export const findFiles = (table: string, projectDir: string, pattern: string, known: ReadonlyMap<string, IngestedFile> = new Map()) =>
  Effect.map(listFiles(table, projectDir, pattern), (files) => withKnownChecksums(files, known))

/** The files with the checksum of `known` where their size and modification time are unchanged. */
export const withKnownChecksums = (files: ReadonlyArray<FoundFile>, known: ReadonlyMap<string, IngestedFile>): ReadonlyArray<FoundFile> =>
  files.map((file) => {
    const previous = known.get(file.path)
    const unchanged = previous !== undefined && previous.size === file.size && previous.modifiedAt === file.modifiedAt && file.modifiedAt !== null
    return unchanged ? { ...file, checksum: previous.checksum } : file
  })

/** The files matching a source's path, sorted, with their size and modification time (no checksums). */
export const listFiles = (table: string, projectDir: string, pattern: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const fail = (reason: string) => new SourceError({ table, path: pattern, reason })
    // A plain path names one file: stat it, rather than walk the directories a glob would probe.
    const matches = hasGlobSyntax(pattern) ? yield* fs.glob(pattern, { root: projectDir }).pipe(Effect.mapError((e) => fail(`cannot list files: ${e.message}`))) : [pattern]
    const files: Array<FoundFile> = []
    for (const match of matches.toSorted()) {
      const absolute = path.isAbsolute(match) ? match : path.join(projectDir, match)
      const info = yield* fs.stat(absolute).pipe(
        Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(undefined)),
        Effect.mapError((e) => fail(`cannot read ${match}: ${e.message}`))
      )
      if (info === undefined || info.type !== "File") continue
      const size = Number(info.size)
      const modifiedAt = Option.match(info.mtime, { onNone: () => null, onSome: (d) => d.toISOString() })
      files.push({ path: absolute, size, modifiedAt, checksum: undefined })
    }
    if (files.length === 0) {
      return yield* fail(`no files match the source path; check the path in the pipeline (it is relative to ${projectDir})`)
    }
    return files
  })

/** The files with every checksum known, reading the files that have none yet. */
export const withChecksums = (table: string, files: ReadonlyArray<FoundFile>) =>
  Effect.forEach(
    files,
    (file): Effect.Effect<IngestedFile, SourceError, FileSystem.FileSystem> =>
      file.checksum !== undefined
        ? Effect.succeed({ ...file, checksum: file.checksum })
        : checksum(file.path).pipe(
            Effect.map((sum) => ({ ...file, checksum: sum })),
            Effect.mapError((e) => new SourceError({ table, path: file.path, reason: `cannot read the file: ${e.message}` }))
          )
  )

/** Which files an incremental bronze run reads, by the documented rule for changed files. */
export const filesToIngest = (node: IngestNode, files: ReadonlyArray<IngestedFile>, ledger: ReadonlyMap<string, IngestedFile>) =>
  Effect.gen(function* () {
    const knownChecksums = new Set([...ledger.values()].map((f) => f.checksum))
    const notes: Array<string> = []
    const read: Array<IngestedFile> = []
    for (const file of files) {
      const before = ledger.get(file.path)
      if (before?.checksum === file.checksum || (before === undefined && knownChecksums.has(file.checksum))) continue
      if (before !== undefined) {
        const rule = node.source.on_change ?? "fail"
        if (rule === "fail") {
          return yield* new SourceError({
            table: node.id,
            path: file.path,
            reason:
              "this file changed after it was ingested (same path, new content); nothing was ingested. Restore it and put the new data in a new file, or set on_change: ingest (adds the new version as a new batch) or skip on the source"
          })
        }
        notes.push(`${file.path} changed after ingestion: ${rule === "ingest" ? "ingested again as a new batch" : "skipped"} (on_change: ${rule})`)
        if (rule === "skip") continue
      }
      knownChecksums.add(file.checksum)
      read.push(file)
    }
    return { read, notes }
  })

/**
 * What a rebuild of an append (incremental) table reads: every current file once per content, in
 * arrival order. A file whose content the ledger holds keeps the batch that first ingested it
 * (`batchId`, `ingestedAt`), so its rows arrive where they did before the rebuild; a file with the
 * content of an earlier one is skipped, as an incremental run skips it.
 */
export const filesToRebuild = (files: ReadonlyArray<IngestedFile>, ledger: ReadonlyMap<string, LedgerFile>) => {
  const known = (file: IngestedFile) => {
    const entry = ledger.get(file.path)
    return entry?.checksum === file.checksum ? entry : undefined
  }
  // Known files by when they arrived, then new ones by path.
  const arrival = (file: IngestedFile) => {
    const entry = known(file)
    return entry === undefined ? `1 ${file.path}` : `0 ${entry.ingestedAt ?? ""} ${entry.batchId} ${file.path}`
  }
  const firstOf = new Map<string, string>()
  const read: Array<IngestedFile & { readonly arrived?: LedgerFile | undefined }> = []
  const notes: Array<string> = []
  for (const file of files.toSorted((a, b) => (arrival(a) < arrival(b) ? -1 : arrival(a) > arrival(b) ? 1 : 0))) {
    const first = firstOf.get(file.checksum)
    if (first !== undefined) {
      notes.push(`${file.path} has the content of ${first}: skipped`)
      continue
    }
    firstOf.set(file.checksum, file.path)
    read.push({ ...file, arrived: known(file) })
  }
  return { read, notes }
}

/**
 * Fails when a file changed on disk since it was listed (size or modification time): it was
 * written to while the table read it, so what was read may be half old, half new. Checked after the
 * read and the hashing, before anything is published.
 */
export const unchangedSince = (table: string, files: ReadonlyArray<FoundFile>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    for (const file of files) {
      const info = yield* fs.stat(file.path).pipe(Effect.option)
      const now = Option.map(info, (i) => ({ size: Number(i.size), modifiedAt: Option.match(i.mtime, { onNone: () => null, onSome: (d) => d.toISOString() }) }))
      const same = Option.isSome(now) && now.value.size === file.size && now.value.modifiedAt === file.modifiedAt
      if (!same) {
        const change = Option.isNone(now)
          ? "was removed"
          : now.value.size !== file.size
            ? `changed size from ${file.size} to ${now.value.size} bytes`
            : `was modified (at ${now.value.modifiedAt})`
        return yield* new SourceError({
          table,
          path: file.path,
          reason: `the file ${change} while it was being read; nothing was published. Write new data to a new file, or write it aside and rename it into place when complete; then apply again`
        })
      }
    }
  })
