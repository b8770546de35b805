/**
 * Runs one table of the plan: compiles it with the run's inputs, executes the statements on one
 * session, checks the accounting and records batches and ledgers. Owns the order of statements
 * and what is atomic; not the SQL text (compile/) nor scheduling across tables (Runner.ts).
 */
import { Effect, FileSystem, Path } from "effect"
import { compileIngest } from "../compile/ingest.ts"
import { compileModel, type ModelProgram } from "../compile/model.ts"
import { appendStatements, nextName, type Publication, replaceStatements } from "../compile/publish.ts"
import { Executor, type ExecutorError, type Session } from "../executor/Executor.ts"
import { MetadataStore } from "../metadata/MetadataStore.ts"
import type { IngestNode, ModelNode, PlanNode } from "../plan/Plan.ts"
import type { Layer, Target } from "../spec/Pipeline.ts"
import { type Accounting, account } from "./accounting.ts"
import { CastFailed, ExpectationFailed, InputError, type TableError } from "./errors.ts"
import { findFiles } from "./files.ts"

export interface RunContext {
  readonly batchId: string
  readonly startedAt: string
  readonly projectDir: string
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
  readonly note: string | null
}

const sum = (rows: ReadonlyArray<Record<string, unknown>>) => Number(rows[0]?.["n"] ?? 0)

/** Names in a layer that currently hold a view, so a replace can drop the right kind of object. */
const viewsIn = (session: Session, layer: Layer, names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { dialect } = yield* Executor
    const rows = yield* session.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = ${dialect.literal(layer)} AND table_type = 'VIEW' AND table_name IN (${names.map(dialect.literal).join(", ")})`
    )
    return new Set(rows.map((r) => String(r["table_name"])))
  })

/** Build aside, then swap every publication in in one transaction; on failure drop what was built. */
const publishReplace = (
  session: Session,
  layer: Layer,
  publications: ReadonlyArray<Publication>,
  alsoInTransaction: (s: Session) => Effect.Effect<void, ExecutorError>,
  beforeSwap: Effect.Effect<void, InputError | ExecutorError, Executor | FileSystem.FileSystem | Path.Path>
) =>
  Effect.gen(function*() {
    const { dialect } = yield* Executor
    const statements = replaceStatements(dialect, publications)
    const views = yield* viewsIn(session, layer, publications.map((p) => p.name))
    const counts = yield* Effect.forEach(statements.build, session.execute)
    yield* beforeSwap
    yield* session.transaction(Effect.gen(function*() {
      yield* Effect.forEach(statements.swap(views), session.execute, { discard: true })
      yield* alsoInTransaction(session)
    }))
    return counts
  }).pipe(Effect.onError(() => Effect.gen(function*() {
    const { dialect } = yield* Executor
    yield* Effect.forEach(replaceStatements(dialect, publications).cleanup, (sql) => Effect.ignore(session.execute(sql)), { discard: true })
  })))

/** Writes the table's targets from `from` (the table about to be published), so a failed export publishes nothing. */
const exportTargets = (session: Session, node: ModelNode, ctx: RunContext, from: string) =>
  Effect.gen(function*() {
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
      yield* fs.makeDirectory(partitionBy.length > 0 ? file : path.dirname(file), { recursive: true }).pipe(
        Effect.mapError((e) => new InputError({ table: node.id, reason: `cannot create export folder ${raw}: ${e.message}` }))
      )
      yield* session.execute(dialect.exportFile(`SELECT * FROM ${from}`, file, format, partitionBy))
    }
  })

const runIngest = (node: IngestNode, ctx: RunContext) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const store = yield* MetadataStore
    const d = executor.dialect
    const found = yield* findFiles(node.id, ctx.projectDir, node.source.path)
    const known = node.mode === "append" ? yield* store.ingestedChecksums(node.id) : new Set<string>()
    const seen = new Set<string>()
    const files = found.filter((f) => !known.has(f.checksum) && !seen.has(f.checksum) && seen.add(f.checksum))
    const skippedFiles = found.length - files.length
    if (files.length === 0) {
      const counts: TableCounts = {
        rowsIn: 0, rowsOut: 0, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, droppedByReason: {}, expectations: [],
        accountingOk: true, note: `no new files (${found.length} already ingested)`
      }
      return counts
    }
    const program = compileIngest(d, node, { batchId: ctx.batchId, startedAt: ctx.startedAt, files: files.map((f) => f.path) })
    const batch = (count: number) => ({
      batch_id: ctx.batchId, table: node.id, source: node.sourceName, layer: "bronze", ingestion_time: ctx.startedAt,
      record_count: count, checksum: files.map((f) => f.checksum).join(",")
    })
    return yield* executor.withSession((session) =>
      Effect.gen(function*() {
        yield* session.execute(program.buildStage)
        const read = sum(yield* session.query(program.countStage))
        const rejectsName = `${node.name}__rejects`
        const publications: Array<Publication> = [
          { layer: "bronze", name: node.name, query: program.output },
          ...(program.rejected === undefined ? [] : [{ layer: "bronze" as const, name: rejectsName, query: program.rejected }])
        ]
        let written = 0, rejected = 0
        if (node.mode === "replace") {
          const counts = yield* publishReplace(session, "bronze", publications, (s) => store.recordBatch(s, batch(read)), Effect.void)
          written = counts[0] ?? 0
          rejected = counts[1] ?? 0
        } else {
          const statements = appendStatements(d, publications)
          const counts = yield* session.transaction(Effect.gen(function*() {
            const counts = yield* Effect.forEach(statements, session.execute)
            yield* store.recordIngested(session, node.id, ctx.batchId, files)
            yield* store.recordBatch(session, batch(read))
            return counts
          }))
          written = counts[1] ?? 0
          rejected = counts[3] ?? 0
        }
        return {
          rowsIn: read + rejected, rowsOut: written, quarantined: 0, dropped: 0, duplicates: 0, rejected,
          droppedByReason: {}, expectations: [], accountingOk: written === read,
          note: `${files.length} file(s)${skippedFiles > 0 ? `, ${skippedFiles} already ingested` : ""}`
        } satisfies TableCounts
      }).pipe(Effect.ensuring(Effect.forEach(program.cleanup, (sql) => Effect.ignore(session.execute(sql)), { discard: true })))
    )
  })

/** Fails the table when a cast or an expectation set to `fail` did not hold; nothing is written then. */
const enforce = (session: Session, node: ModelNode, program: ModelProgram, counts: Accounting) =>
  Effect.gen(function*() {
    for (const [column, failed] of counts.castFailures) {
      const samples = yield* session.query(program.castFailureSample(column))
      return yield* new CastFailed({ table: node.id, column, failed, samples: samples.map((r) => String(r["value"])) })
    }
    const failing = counts.expectations.find((e) => e.on_fail === "fail" && e.failed > 0)
    if (failing !== undefined) {
      return yield* new ExpectationFailed({ table: node.id, expectation: failing.expectation, failed: failing.failed })
    }
  })

/** Append mode: the input's `_batch_id`s this table has not consumed yet. */
const newInputBatches = (session: Session, node: ModelNode) =>
  Effect.gen(function*() {
    const { dialect } = yield* Executor
    const store = yield* MetadataStore
    if (node.input === undefined) {
      return yield* new InputError({ table: node.id, reason: "mode: append needs `from:` an input table with _batch_id lineage; use mode: replace for sql tables" })
    }
    const [layer, name] = node.input.split(".") as [Layer, string]
    const columns = yield* session.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = ${dialect.literal(layer)} AND table_name = ${dialect.literal(name)} AND column_name = '_batch_id'`
    )
    if (columns.length === 0) {
      return yield* new InputError({ table: node.id, reason: `mode: append needs the input ${node.input} to keep its _batch_id column (do not select or drop it upstream), or use mode: replace` })
    }
    const consumed = yield* store.consumedBatches(node.id, node.input)
    const rows = yield* session.query(`SELECT DISTINCT _batch_id AS b FROM ${dialect.table(layer, name)}`)
    return rows.map((r) => String(r["b"])).filter((b) => !consumed.has(b)).sort()
  })

const runModel = (node: ModelNode, ctx: RunContext) =>
  Effect.gen(function*() {
    const executor = yield* Executor
    const store = yield* MetadataStore
    const d = executor.dialect
    return yield* executor.withSession((session) =>
      Effect.gen(function*() {
        const batches = node.mode === "append" ? yield* newInputBatches(session, node) : undefined
        const program = compileModel(d, node, { batchId: ctx.batchId, startedAt: ctx.startedAt, newInputBatches: batches })
        const target = d.table(node.layer, node.name)
        const batch = (count: number) => ({
          batch_id: ctx.batchId, table: node.id, source: node.input ?? "sql", layer: node.layer, ingestion_time: ctx.startedAt,
          record_count: count, checksum: batches?.join(",") ?? ""
        })
        if (node.mode === "view") {
          const counts = account(yield* session.query(program.classifyView), program.expectations)
          yield* enforce(session, node, program, counts)
          const views = yield* viewsIn(session, node.layer, [node.name])
          yield* session.transaction(Effect.gen(function*() {
            if (!views.has(node.name)) yield* session.execute(d.dropTable(target))
            yield* session.execute(d.createOrReplaceView(target, program.viewQuery))
            yield* store.recordBatch(session, batch(counts.rowsOut))
          }))
          return { ...counts, rejected: 0, accountingOk: true, note: "view" } satisfies TableCounts
        }
        const body = Effect.gen(function*() {
          yield* session.execute(program.buildStage)
          const counts = account(yield* session.query(program.classify), program.expectations)
          yield* enforce(session, node, program, counts)
          const publications: Array<Publication> = [
            { layer: node.layer, name: node.name, query: program.output },
            ...(program.quarantine === undefined ? [] : [{ layer: node.layer, name: `${node.name}__quarantine`, query: program.quarantine }])
          ]
          let written = 0, quarantined = 0
          if (node.mode === "replace") {
            const built = yield* publishReplace(session, node.layer, publications, (s) => store.recordBatch(s, batch(counts.rowsOut)),
              exportTargets(session, node, ctx, d.table(node.layer, nextName(node.name))))
            written = built[0] ?? 0
            quarantined = built[1] ?? 0
          } else {
            const statements = appendStatements(d, publications)
            const appended = yield* session.transaction(Effect.gen(function*() {
              const appended = yield* Effect.forEach(statements, session.execute)
              yield* exportTargets(session, node, ctx, target)
              yield* store.recordConsumed(session, node.id, node.input!, batches ?? [])
              yield* store.recordBatch(session, batch(counts.rowsOut))
              return appended
            }))
            written = appended[1] ?? 0
            quarantined = appended[3] ?? 0
          }
          return {
            ...counts, rejected: 0,
            accountingOk: written === counts.rowsOut && quarantined === counts.quarantined &&
              counts.rowsIn === counts.rowsOut + counts.quarantined + counts.dropped + counts.duplicates,
            note: batches === undefined ? null : `${batches.length} new input batch(es)`
          } satisfies TableCounts
        })
        return yield* body.pipe(Effect.ensuring(Effect.ignore(session.execute(program.dropStage))))
      })
    )
  })

export const runTable = (
  node: PlanNode,
  ctx: RunContext
): Effect.Effect<TableCounts, TableError | ExecutorError, Executor | MetadataStore | FileSystem.FileSystem | Path.Path> =>
  node._tag === "Ingest" ? runIngest(node, ctx) : runModel(node, ctx)
