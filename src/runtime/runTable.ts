/**
 * Runs one table of the plan: compiles it with the run's inputs, executes the statements on one
 * session, checks the accounting and records ledgers and state. Owns the order of statements and
 * what is atomic; not the SQL text (compile/) nor scheduling and change detection (Runner.ts).
 */
import { Effect, FileSystem, Path, Scope } from "effect"
import { compileIngest, type IngestFile } from "../compile/ingest.ts"
import { compileModel, type ModelProgram, type Probe } from "../compile/model.ts"
import { appendStatements, nextName, type Publication, replaceStatements } from "../compile/publish.ts"
import { Executor, ExecutorError, type Session } from "../executor/Executor.ts"
import { type IngestedFile, type LedgerFile, MetadataStore } from "../metadata/MetadataStore.ts"
import { type IngestNode, type ModelNode, type PlanNode, reshapes } from "../plan/Plan.ts"
import type { Layer, Target } from "../spec/Pipeline.ts"
import { type Accounting, account } from "./accounting.ts"
import { columnsOf } from "./catalog.ts"
import { CastFailed, ExpectationFailed, InputError, SourceError, StepError, type TableError } from "./errors.ts"
import { filesToIngest, filesToRebuild, type FoundFile, unchangedSince } from "./files.ts"
import { addRawBytes, setAsideLongLines } from "./rejects.ts"

export interface RunContext {
  readonly batchId: string
  readonly startedAt: string
  readonly projectDir: string
}

export interface TableJob {
  readonly node: PlanNode
  /** Read all input (create, rebuild) rather than only what is new (incremental). */
  readonly full: boolean
  /** The source's files, for bronze tables; checksums not needed to decide may still be pending. */
  readonly files: ReadonlyArray<FoundFile>
  /** The same files with every checksum, by the time the table publishes (hashed while it reads). */
  readonly checksummed: Effect.Effect<ReadonlyArray<IngestedFile>, SourceError>
  /**
   * Runs in the transaction that publishes, given the counts the table run returns: records the
   * table's new state and its outcome in the run.
   */
  readonly onPublish: (session: Session, counts: TableCounts) => Effect.Effect<void, SourceError | ExecutorError>
}

/** What a table run measured; the Runner adds status, timing and identity. */
export interface TableCounts {
  readonly rowsIn: number
  readonly rowsOut: number
  readonly quarantined: number
  readonly dropped: number
  readonly duplicates: number
  readonly rejected: number
  readonly droppedByReason: Readonly<Record<string, number>>
  readonly expectations: Accounting["expectations"]
  readonly accountingOk: boolean
  readonly notes: ReadonlyArray<string>
  /** Whether the table's rows changed (a new data version for its dependents). */
  readonly changed: boolean
}

type Requirements = Executor | MetadataStore | FileSystem.FileSystem | Path.Path

/** A table run that read nothing new: zero counts, with notes saying why. */
export const nothingNew = (notes: ReadonlyArray<string>): TableCounts => ({
  rowsIn: 0,
  rowsOut: 0,
  quarantined: 0,
  dropped: 0,
  duplicates: 0,
  rejected: 0,
  droppedByReason: {},
  expectations: [],
  accountingOk: true,
  notes,
  changed: false
})

const count = (rows: ReadonlyArray<Record<string, unknown>>) => Number(rows[0]?.["n"] ?? 0)

/** Names in a layer that currently hold a view, so a replace can drop the right kind of object. */
const viewsIn = (session: Session, layer: Layer, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const rows = yield* session.query(dialect.viewsIn(layer, names))
    return new Set(rows.map((r) => String(r["table_name"])))
  })

/**
 * Adds to `table` the columns `query` has and it lacks (schema drift: union by name); columns the
 * query lacks stay and get NULL. Returns notes for the run (none when the shapes agree), or
 * undefined when the table does not exist yet.
 */
const alignColumns = (session: Session, layer: Layer, name: string, query: string) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const existing = yield* columnsOf(session, layer, name)
    if (existing.length === 0) return undefined
    const have = new Set(existing.map((c) => c.name))
    const described = dialect.describeColumns
    const incoming = (yield* session.query(dialect.describe(query))).map((c) => ({ column_name: String(c[described.name]), column_type: String(c[described.type]) }))
    const added = incoming.filter((c) => !have.has(c.column_name))
    for (const c of added) yield* session.execute(dialect.addColumn(dialect.table(layer, name), c.column_name, c.column_type))
    const names = new Set(incoming.map((c) => c.column_name))
    const missing = [...have].filter((c) => !names.has(c))
    return [
      ...(added.length > 0 ? [`${layer}.${name}: new columns ${added.map((c) => c["column_name"]).join(", ")}`] : []),
      ...(missing.length > 0 ? [`${layer}.${name}: no values for ${missing.join(", ")} (NULL)`] : [])
    ]
  })

/** A publication whose build first runs `before` (work that needs what the builds before it read). */
type PublicationAfter = Publication & { readonly before?: Effect.Effect<void, SourceError | ExecutorError, Requirements> }

/** Build aside, then swap every publication in in one transaction; on failure drop what was built. */
const publishReplace = (
  session: Session,
  layer: Layer,
  publications: ReadonlyArray<PublicationAfter>,
  beforeSwap: Effect.Effect<void, InputError | ExecutorError, Requirements>,
  /** Runs in the swap's transaction, given the rows each publication received. */
  inTransaction: (built: ReadonlyArray<number>) => Effect.Effect<void, SourceError | ExecutorError, Requirements>
) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const statements = replaceStatements(dialect, publications)
    const cleanup = Effect.forEach(statements.cleanup, (sql) => Effect.ignore(session.execute(sql)), { discard: true })
    return yield* Effect.gen(function* () {
      const views = yield* viewsIn(
        session,
        layer,
        publications.map((p) => p.name)
      )
      const built = yield* Effect.forEach(statements.build, (sql, i) => Effect.andThen(publications[i]!.before ?? Effect.void, session.execute(sql)))
      yield* beforeSwap
      yield* session.transaction(
        Effect.gen(function* () {
          yield* Effect.forEach(statements.swap(views), session.execute, { discard: true })
          yield* inTransaction(built)
        })
      )
      return built
    }).pipe(Effect.onError(() => cleanup))
  })

/** Inserts each publication by name, after aligning columns; returns rows inserted and drift notes. */
const publishAppend = (session: Session, publications: ReadonlyArray<Publication>) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const notes: Array<string> = []
    const inserted: Array<number> = []
    for (const p of publications) {
      const aligned = yield* alignColumns(session, p.layer, p.name, p.query)
      const { create, insert } = appendStatements(dialect, p)
      if (aligned === undefined) yield* session.execute(create)
      else notes.push(...aligned)
      inserted.push(yield* session.execute(insert))
    }
    return { inserted, notes }
  })

/** Writes the table's targets from `from` (the table about to be published), so a failed export publishes nothing. */
const exportTargets = (session: Session, node: ModelNode, ctx: RunContext, from: string) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    for (const target of node.table.targets ?? ([] as ReadonlyArray<Target>)) {
      const format = "parquet" in target ? "parquet" : "csv"
      const raw = "parquet" in target ? target.parquet : target.csv
      const partitionBy = target.partition_by ?? []
      const base = path.resolve(ctx.projectDir, raw)
      // A folder without partitions gets one file named after the table.
      const file = partitionBy.length === 0 && raw.endsWith("/") ? path.join(base, `${node.name}.${format}`) : base
      yield* fs
        .makeDirectory(partitionBy.length > 0 ? file : path.dirname(file), { recursive: true })
        .pipe(Effect.mapError((e) => new InputError({ table: node.id, reason: `cannot create export folder ${raw}: ${e.message}` })))
      yield* session.execute(dialect.exportFile(`SELECT * FROM ${from}`, file, format, partitionBy))
    }
  })

/** Adds to a stage the columns a query has and it lacks; returns their names. */
const addMissingColumns = (session: Session, stage: string, query: string) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const columns = (sql: string) =>
      Effect.map(session.query(dialect.describe(sql)), (rows) =>
        rows.map((c) => ({ name: String(c[dialect.describeColumns.name]), type: String(c[dialect.describeColumns.type]) }))
      )
    const have = new Set((yield* columns(`SELECT * FROM ${stage}`)).map((c) => c.name))
    const added = (yield* columns(query)).filter((c) => !have.has(c.name))
    for (const c of added) yield* session.execute(dialect.addColumn(stage, c.name, c.type))
    return added.map((c) => c.name)
  })

/**
 * A file as rows name it: its path relative to the project, with `/` (the same on every machine and
 * checkout); a file outside the project keeps its absolute path.
 */
const nameInProject = (path: Path.Path, projectDir: string, file: string) => {
  const relative = path.relative(projectDir, file)
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : relative.split(path.sep).join("/")
}

const runIngest = (job: TableJob, node: IngestNode, ctx: RunContext) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const store = yield* MetadataStore
    const d = executor.dialect
    const incremental = node.mode === "append" && !job.full
    const ledger: ReadonlyMap<string, LedgerFile> = node.mode === "append" ? yield* store.ingestedFiles(node.id) : new Map()
    // A rebuild of an append table gives each file back the batch that first ingested it.
    const selected: { readonly read: ReadonlyArray<FoundFile & { readonly arrived?: LedgerFile | undefined }>; readonly notes: ReadonlyArray<string> } = incremental
      ? yield* filesToIngest(node, yield* job.checksummed, ledger)
      : node.mode === "append"
        ? filesToRebuild(yield* job.checksummed, ledger)
        : { read: job.files, notes: [] }
    const empty = selected.read.filter((f) => f.size === 0)
    const files = selected.read.filter((f) => f.size > 0)
    const notes = [...selected.notes, ...empty.map((f) => `${f.path} is empty (0 bytes): skipped`)]
    if (files.length === 0) {
      return nothingNew([...notes, incremental ? `no new files (${job.files.length} already ingested)` : "no data in the source's files"])
    }
    const path = yield* Path.Path
    const arriving = files.map((f) => ({
      path: f.path,
      name: nameInProject(path, ctx.projectDir, f.path),
      size: f.size,
      batchId: f.arrived?.batchId ?? ctx.batchId,
      ingestedAt: f.arrived?.ingestedAt ?? ctx.startedAt
    }))
    const batchOf = new Map(arriving.map((f) => [f.path, f.batchId]))
    // Files whose lines the reader cannot all take are read from copies made here.
    const fs = yield* FileSystem.FileSystem
    const scope = yield* Scope.Scope
    const scratch = yield* Effect.cached(
      fs.makeTempDirectoryScoped({ prefix: "medallion-lines-" }).pipe(
        Effect.provideService(Scope.Scope, scope),
        Effect.mapError((e) => new SourceError({ table: node.id, path: "(temporary directory)", reason: `cannot create a scratch directory: ${e.message}` }))
      )
    )
    const lineStatements = compileIngest(d, node, { batchId: ctx.batchId, startedAt: ctx.startedAt, files: arriving }).lines
    const longLines = lineStatements === undefined ? { files: arriving, statements: [] } : yield* setAsideLongLines(node, lineStatements, arriving, scratch)
    const inputs: ReadonlyArray<IngestFile> = longLines.files
    const program = compileIngest(d, node, { batchId: ctx.batchId, startedAt: ctx.startedAt, files: inputs })
    // The files as hashed, once every read is done: a file that changed on disk meanwhile fails the
    // table here, before its rows and ledger are published.
    const readFiles = yield* Effect.cached(
      Effect.gen(function* () {
        const read = (yield* job.checksummed).filter((f) => batchOf.has(f.path))
        yield* unchangedSince(node.id, read)
        return read
      })
    )
    const tally = (read: number, written: number, rejected: number): TableCounts => ({
      rowsIn: read + rejected,
      rowsOut: written,
      quarantined: 0,
      dropped: 0,
      duplicates: 0,
      rejected,
      droppedByReason: {},
      expectations: [],
      accountingOk: written === read,
      changed: true,
      notes: [`${files.length} file(s)${incremental && job.files.length > files.length ? `, ${job.files.length - files.length} already ingested` : ""}`, ...notes]
    })
    const batch = (session: Session, rows: number, counts: TableCounts) =>
      Effect.gen(function* () {
        yield* store.recordBatch(session, {
          batch_id: ctx.batchId,
          table: node.id,
          source: node.sourceName,
          layer: "bronze",
          ingestion_time: ctx.startedAt,
          record_count: rows,
          checksum: (yield* readFiles).map((f) => f.checksum).join(",")
        })
        yield* job.onPublish(session, counts)
      })
    return yield* executor.withSession((session) =>
      Effect.gen(function* () {
        // Once the reads ran: the exact bytes of the lines rejected as not UTF-8.
        const rawBytes = program.lines === undefined ? Effect.void : addRawBytes(node.id, session, program.lines, scratch)
        const rejectsTable = (query: string | undefined): ReadonlyArray<PublicationAfter> =>
          query === undefined ? [] : [{ layer: "bronze", name: `${node.name}__rejects`, query, before: rawBytes }]
        const ledgerEntries = (s: Session) =>
          node.mode === "append"
            ? Effect.flatMap(readFiles, (read) =>
                store.recordIngested(
                  s,
                  node.id,
                  ctx.batchId,
                  read.map((f) => ({ ...f, batchId: batchOf.get(f.path) }))
                )
              )
            : Effect.void
        /** Work reading files[index]: a failure of a statement reading it, that no retry gets past, names the file. */
        const readingFile = <A, E, R>(index: number, effect: Effect.Effect<A, E, R>) => {
          const file = files[index]!.path
          return effect.pipe(
            Effect.catchIf(
              (e): e is E & ExecutorError => e instanceof ExecutorError && !e.isRetryable && e.statement.includes(d.literal(file)),
              (e) => Effect.fail(new SourceError({ table: node.id, path: file, reason: `cannot read this file: ${e.reason.detail.split("\n")[0]}` }))
            )
          )
        }
        /** Builds the table anew from `query`; `staged` rows were read into the stage (else the build reads them). */
        const rebuild = (query: string, staged?: number) =>
          publishReplace(session, "bronze", [{ layer: "bronze", name: node.name, query }, ...rejectsTable(program.rejected)], Effect.void, (counts) =>
            Effect.gen(function* () {
              if (node.mode === "append") yield* store.resetLedgers(session, node.id)
              yield* ledgerEntries(session)
              yield* batch(session, counts[0] ?? 0, tally(staged ?? counts[0] ?? 0, counts[0] ?? 0, counts[1] ?? 0))
            })
          )
        yield* Effect.forEach([...(program.lines?.prepare ?? []), ...longLines.statements], (sql) => session.execute(sql), { discard: true })
        let read = 0,
          written = 0,
          rejected = 0
        if (!incremental && files.length === 1) {
          // One pass: the new table is written as the file is read, and the write counts the rows.
          const built = yield* readingFile(0, rebuild(program.reads[0]!))
          read = written = built[0] ?? 0
          rejected = built[1] ?? 0
        } else {
          yield* readingFile(0, session.execute(program.createStage))
          for (let i = 1; i < files.length; i++) {
            const added = yield* readingFile(i, addMissingColumns(session, d.tempTable(program.stage), program.reads[i]!))
            if (added.length > 0) notes.push(`${files[i]!.path} adds columns ${added.join(", ")} (NULL for the files before it)`)
            yield* readingFile(i, session.execute(program.insertIntoStage(i)))
          }
          read = count(yield* session.query(program.countStage))
          if (!incremental) {
            const built = yield* rebuild(program.output, read)
            written = built[0] ?? 0
            rejected = built[1] ?? 0
          } else {
            yield* rawBytes
            const appended = yield* session.transaction(
              Effect.gen(function* () {
                const result = yield* publishAppend(session, [{ layer: "bronze", name: node.name, query: program.output }, ...rejectsTable(program.rejected)])
                notes.push(...result.notes)
                yield* ledgerEntries(session)
                yield* batch(session, read, tally(read, result.inserted[0] ?? 0, result.inserted[1] ?? 0))
                return result
              })
            )
            written = appended.inserted[0] ?? 0
            rejected = appended.inserted[1] ?? 0
          }
        }
        return tally(read, written, rejected)
      }).pipe(Effect.ensuring(Effect.forEach(program.cleanup, (sql) => Effect.ignore(session.execute(sql)), { discard: true })))
    )
  }).pipe(Effect.scoped)

/** Fails the table when a cast or an expectation set to `fail` did not hold; nothing is written then. */
const enforce = (session: Session, node: ModelNode, program: ModelProgram, counts: Accounting) =>
  Effect.gen(function* () {
    for (const [column, failed] of counts.castFailures) {
      const samples = yield* session.query(program.castFailureSample(column))
      return yield* new CastFailed({ table: node.id, column, failed, samples: samples.map((r) => String(r["value"])) })
    }
    const failing = counts.expectations.find((e) => e.on_fail === "fail" && e.failed > 0)
    if (failing !== undefined) {
      return yield* new ExpectationFailed({ table: node.id, expectation: failing.expectation, failed: failing.failed })
    }
  })

/** The input's `_batch_id`s: all of them, and those this table has not consumed yet (given the input's columns). */
const inputBatches = (session: Session, node: ModelNode, inputColumns: ReadonlyArray<string> | undefined, required: boolean) =>
  Effect.gen(function* () {
    const { dialect } = yield* Executor
    const store = yield* MetadataStore
    if (node.input === undefined || inputColumns === undefined) {
      if (!required) return undefined
      return yield* new InputError({ table: node.id, reason: `mode: ${node.mode} needs \`from:\` an input table with _batch_id lineage; use mode: replace for sql tables` })
    }
    const [layer, name] = node.input.split(".") as [Layer, string]
    if (!inputColumns.includes("_batch_id")) {
      if (!required) return undefined
      return yield* new InputError({
        table: node.id,
        reason: `mode: ${node.mode} needs the input ${node.input} to keep its _batch_id column (do not select or drop it upstream), or use mode: replace`
      })
    }
    const consumed = yield* store.consumedBatches(node.id, node.input)
    const all = (yield* session.query(`SELECT DISTINCT _batch_id AS b FROM ${dialect.table(layer, name)}`)).map((r) => String(r["b"])).sort()
    return { all, fresh: all.filter((b) => !consumed.has(b)) }
  })

const runModel = (job: TableJob, node: ModelNode, ctx: RunContext) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const store = yield* MetadataStore
    const d = executor.dialect
    let probes: ReadonlyArray<Probe> = []
    return yield* executor
      .withSession((session) =>
        Effect.gen(function* () {
          const names = (id: string) => {
            const [layer, name] = id.split(".") as [Layer, string]
            return Effect.map(columnsOf(session, layer, name), (columns) => columns.map((c) => c.name))
          }
          // The input's columns say whether it has batches to take in, and which arrival columns can
          // order ties.
          const inputColumns = node.input === undefined ? undefined : yield* names(node.input)
          const batches = node.mode === "append" || node.mode === "merge" ? yield* inputBatches(session, node, inputColumns, node.mode === "append") : undefined
          // A merge takes in whatever changed: the new batches, or all rows when its input has no
          // batches or its steps change the grain (an aggregate must see every row).
          const incremental = !job.full && (node.mode === "merge" || batches !== undefined)
          const reshaped = (node.table.transforms ?? []).some(reshapes)
          const reading = incremental && batches !== undefined && !(node.mode === "merge" && reshaped) ? batches.fresh : undefined
          if (incremental && reading !== undefined && reading.length === 0) {
            return nothingNew([`no new batches in ${node.input}`])
          }
          const target = d.table(node.layer, node.name)
          // An append checks `unique` against the rows it already holds.
          const checksUnique = (node.table.expect ?? []).some((e) => "unique" in e)
          const appendingTo = incremental && node.mode === "append" && checksUnique && (yield* names(node.id)).length > 0 ? target : undefined
          const program = compileModel(d, node, { batchId: ctx.batchId, startedAt: ctx.startedAt, newInputBatches: reading, inputColumns, appendingTo })
          probes = program.probes
          const publish = (result: TableCounts) =>
            Effect.gen(function* () {
              yield* store.recordBatch(session, {
                batch_id: ctx.batchId,
                table: node.id,
                source: node.input ?? "sql",
                layer: node.layer,
                ingestion_time: ctx.startedAt,
                record_count: result.rowsOut,
                checksum: (reading ?? batches?.all ?? []).join(",")
              })
              if (batches !== undefined && node.input !== undefined) {
                if (!incremental) yield* store.resetLedgers(session, node.id)
                yield* store.recordConsumed(session, node.id, node.input, reading ?? batches.all)
              }
              yield* job.onPublish(session, result)
            })
          if (node.mode === "view") {
            const counts = account(yield* session.query(program.classifyView), program.expectations)
            yield* enforce(session, node, program, counts)
            const views = yield* viewsIn(session, node.layer, [node.name])
            const result: TableCounts = { ...counts, rejected: 0, accountingOk: true, notes: ["view"], changed: true }
            yield* session.transaction(
              Effect.gen(function* () {
                if (!views.has(node.name)) yield* session.execute(d.dropTable(target))
                yield* session.execute(d.createOrReplaceView(target, program.chainQuery))
                yield* publish(result)
              })
            )
            return result
          }
          const body = Effect.gen(function* () {
            yield* session.execute(program.buildStage)
            const counts = account(yield* session.query(program.classify), program.expectations)
            yield* enforce(session, node, program, counts)
            const publications: Array<Publication> = [
              { layer: node.layer, name: node.name, query: program.output },
              ...(program.quarantine === undefined ? [] : [{ layer: node.layer, name: `${node.name}__quarantine`, query: program.quarantine }])
            ]
            const notes: Array<string> = []
            const tally = (written: number, quarantined: number): TableCounts => ({
              ...counts,
              rejected: 0,
              changed: true,
              accountingOk:
                written === counts.rowsOut && quarantined === counts.quarantined && counts.rowsIn === counts.rowsOut + counts.quarantined + counts.dropped + counts.duplicates,
              notes: [...(reading === undefined ? [] : [`${reading.length} new input batch(es)`]), ...notes]
            })
            let written = 0,
              quarantined = 0
            if (!incremental) {
              const built = yield* publishReplace(session, node.layer, publications, exportTargets(session, node, ctx, d.table(node.layer, nextName(node.name))), (built) =>
                publish(tally(built[0] ?? 0, built[1] ?? 0))
              )
              written = built[0] ?? 0
              quarantined = built[1] ?? 0
            } else if (node.mode === "append") {
              const appended = yield* session.transaction(
                Effect.gen(function* () {
                  const result = yield* publishAppend(session, publications)
                  notes.push(...result.notes)
                  yield* exportTargets(session, node, ctx, target)
                  yield* publish(tally(result.inserted[0] ?? 0, result.inserted[1] ?? 0))
                  return result
                })
              )
              written = appended.inserted[0] ?? 0
              quarantined = appended.inserted[1] ?? 0
            } else {
              const merged = yield* session.transaction(
                Effect.gen(function* () {
                  notes.push(...((yield* alignColumns(session, node.layer, node.name, program.output)) ?? []))
                  const changed = yield* session.execute(d.merge(target, program.output, node.table.key ?? [], node.table.sequence_by))
                  const rest = yield* publishAppend(session, publications.slice(1))
                  notes.push(...rest.notes)
                  // Rows older than the stored version of their key are offered but not written.
                  if (changed < counts.rowsOut) notes.push(`${counts.rowsOut - changed} row(s) older than the stored version of their key were not applied`)
                  yield* exportTargets(session, node, ctx, target)
                  yield* publish(tally(counts.rowsOut, rest.inserted[0] ?? 0))
                  return { quarantined: rest.inserted[0] ?? 0 }
                })
              )
              written = counts.rowsOut
              quarantined = merged.quarantined
            }
            return tally(written, quarantined)
          })
          const staged = body.pipe(Effect.ensuring(Effect.ignore(session.execute(program.dropStage))))
          if (incremental || !program.keepsEveryRow) return yield* staged
          // Nothing can set a row aside: build the table straight from the chain, one pass, and let
          // the write count the rows. A strict cast that fails is built again staged, for the
          // message naming the column and its bad values.
          const direct: Publication = { layer: node.layer, name: node.name, query: program.chainQuery }
          const [build] = replaceStatements(d, [direct]).build
          const written = (built: ReadonlyArray<number>): TableCounts => ({ ...nothingNew([]), rowsIn: built[0] ?? 0, rowsOut: built[0] ?? 0, changed: true })
          return yield* publishReplace(session, node.layer, [direct], exportTargets(session, node, ctx, d.table(node.layer, nextName(node.name))), (built) =>
            publish(written(built))
          ).pipe(
            Effect.map(written),
            Effect.catchIf(
              (e) => program.castsCanFail && e._tag === "ExecutorError" && !e.isRetryable && e.statement === build,
              () => staged
            )
          )
        })
      )
      .pipe(
        Effect.catchIf(
          (e): e is ExecutorError => e instanceof ExecutorError && !e.isRetryable && probes.length > 0,
          (e) => Effect.flatMap(locateMistake(node, probes, e), (found) => Effect.fail(found ?? e))
        )
      )
  })

/**
 * The part of the table a rejected statement's mistake is in: the first probe the engine rejects
 * too, reported where it is written, with its text and the engine's reason (without the lines of
 * generated SQL it quotes, and without medallion's own columns among its suggestions).
 */
const locateMistake = (node: ModelNode, probes: ReadonlyArray<Probe>, error: ExecutorError) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    for (const probe of probes) {
      const rejected = yield* executor.withSession((s) => s.query(probe.query)).pipe(Effect.flip, Effect.option)
      if (rejected._tag === "None") continue
      const part = partOf(node, probe.path)
      return new StepError({
        table: node.id,
        location: node.locate(probe.path),
        part: part.name,
        written: part.written,
        reason: engineReason(rejected.value.reason.detail),
        statement: error.statement
      })
    }
    return undefined
  })

/** `transforms[2].filter` and `"amont > 3"`, for a path below a table. */
const partOf = (node: ModelNode, path: ReadonlyArray<string | number>) => {
  const [section, index] = path
  const value: unknown =
    index === undefined
      ? (node.table as Record<string, unknown>)[String(section)]
      : ((node.table as Record<string, unknown>)[String(section)] as ReadonlyArray<unknown>)[Number(index)]
  const kind = section === "transforms" && value !== null && typeof value === "object" ? `.${Object.keys(value)[0]}` : ""
  const written = value === null || typeof value !== "object" ? value : section === "transforms" ? Object.values(value)[0] : "check" in value ? value.check : value
  return {
    name: index === undefined ? String(section) : `${String(section)}[${Number(index)}]${kind}`,
    written: typeof written === "string" ? written : JSON.stringify(written)
  }
}

/** The engine's message without the generated SQL it quotes and without medallion's own columns. */
const engineReason = (detail: string) =>
  detail
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^LINE \d+:/.test(line) && !/^\s*\^\s*$/.test(line))
    .map((line) =>
      line.startsWith("Candidate bindings:") ? line.replace(/,?\s*"(__medallion_[^"]*|_batch_id|_source_file|_ingested_at|_source_row)"/g, "").replace(/: ,\s*/, ": ") : line
    )
    .join("; ")

export const runTable = (job: TableJob, ctx: RunContext): Effect.Effect<TableCounts, TableError | ExecutorError, Requirements> =>
  job.node._tag === "Ingest" ? runIngest(job, job.node, ctx) : runModel(job, job.node, ctx)
