/**
 * Generators for the incremental property (fast-check: seeded, reproducible, shrinkable): small
 * pipelines and their data, split into a sequence of arrivals. Keys repeat (ids 1-4), sequence
 * values tie (1-5), amounts are sometimes negative, empty or not numbers, categories sometimes empty;
 * later files may bring a `note` column; files end lines with LF or CRLF. A replace source also sees
 * files rewritten and removed. An incremental source never does: rows of a removed or rewritten file
 * stay in an append bronze table by design, so a full refresh (which re-reads the current files)
 * could not equal the incremental runs.
 */
import fc from "fast-check"
import type { Arrival, Case, CsvFile, CsvRow, DedupeOrder, Mode, OnFail, PipelineSpec, SilverSpec } from "./model.ts"
import { csvText } from "./model.ts"

export interface CaseOptions {
  /** Allow LF and CRLF files in one case (otherwise a case picks one line ending for all its files). */
  readonly mixedLineEndings: boolean
  /** Allow the order-dependent transforms: dedupe, and merge ties resolved by arrival. */
  readonly orderDependent: boolean
  /** Allow a column (`note`) to appear in later files. */
  readonly newColumns: boolean
  /** Allow a merge table to quarantine or drop rows (casts and expectations other than warn). */
  readonly mergeSetsAside: boolean
  /** Allow `unique: [id], on_fail: fail` on an append table (checked over the whole table). */
  readonly uniqueFail: boolean
}

/** Every class of case: what the property checks by default. */
export const everything: CaseOptions = { orderDependent: true, mergeSetsAside: true, uniqueFail: true, newColumns: true, mixedLineEndings: true }

const onFail = fc.constantFrom<OnFail>("drop", "quarantine", "warn")

const silverSpec = (incremental: boolean, options: CaseOptions, index: number): fc.Arbitrary<SilverSpec> =>
  fc.constantFrom<Mode>(...(incremental ? (["replace", "append", "merge", "view"] as const) : (["replace", "view"] as const))).chain((mode) => {
    // A view cannot set rows aside.
    const warnOnly = mode === "view" || (mode === "merge" && !options.mergeSetsAside)
    return fc
      .record({
        dedupe:
          options.orderDependent && (mode === "replace" || mode === "view")
            ? fc.option(
                fc.record({ order: fc.constantFrom<DedupeOrder>("none", "seq desc", "seq", "_ingested_at desc"), keep: fc.constantFrom<"first" | "last">("first", "last") }),
                { nil: undefined }
              )
            : fc.constant(undefined),
        castOnError: warnOnly ? fc.constant<"null">("null") : fc.constantFrom<"quarantine" | "null">("quarantine", "null"),
        check: fc.option(warnOnly ? fc.constant<OnFail>("warn") : onFail, { nil: undefined }),
        notNull: fc.option(warnOnly ? fc.constant<OnFail>("warn") : onFail, { nil: undefined }),
        unique:
          mode === "append"
            ? fc.option(options.uniqueFail ? fc.constantFrom<"fail" | "warn">("fail", "warn") : fc.constant<"warn">("warn"), { nil: undefined, freq: 2 })
            : fc.constant(undefined)
      })
      .map(
        (r): SilverSpec => ({
          name: `s${index}`,
          mode,
          castOnError: r.castOnError,
          ...(r.dedupe === undefined ? {} : { dedupe: r.dedupe }),
          ...(r.check === undefined ? {} : { check: r.check }),
          ...(r.notNull === undefined ? {} : { notNull: r.notNull }),
          ...(r.unique === undefined ? {} : { unique: r.unique })
        })
      )
  })

export const pipelineSpec = (options: CaseOptions): fc.Arbitrary<PipelineSpec> =>
  fc.boolean().chain((incremental) =>
    fc.tuple(silverSpec(incremental, options, 0), fc.option(silverSpec(incremental, options, 1), { nil: undefined, freq: 2 }), fc.nat(1)).map(([a, b, gold]) => {
      const silver = b === undefined ? [a] : [a, b]
      return { incremental, silver, goldFrom: Math.min(gold, silver.length - 1) }
    })
  )

const row: fc.Arbitrary<CsvRow> = fc.record({
  id: fc.constantFrom("1", "2", "3", "4"),
  seq: fc.constantFrom("1", "2", "3", "4", "5"),
  amount: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -3, max: 20 }).map(String) }, { weight: 1, arbitrary: fc.constantFrom("abc", "") }),
  cat: fc.oneof({ weight: 6, arbitrary: fc.constantFrom("a", "b") }, { weight: 1, arbitrary: fc.constant("") }),
  note: fc.constantFrom("x", "y")
})

/** What one arrival does, before it is tied to the files that exist at that point. */
interface RawArrival {
  readonly files: ReadonlyArray<ReadonlyArray<CsvRow>>
  /** For a replace source: rewrite (with the first new file's rows) or remove an existing file, by index. */
  readonly change: { readonly kind: "none" | "rewrite" | "remove"; readonly pick: number }
  readonly crlf: ReadonlyArray<boolean>
}

const rawArrival: fc.Arbitrary<RawArrival> = fc.record({
  files: fc.array(fc.array(row, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 2 }),
  change: fc.record({ kind: fc.constantFrom<"none" | "rewrite" | "remove">("none", "none", "rewrite", "remove"), pick: fc.nat(9) }),
  crlf: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 })
})

/**
 * A case: a pipeline and 1-4 arrivals. File names are drawn at random (f10.csv .. f99.csv), so a
 * later file may sort before an earlier one. The content of every new file differs from every
 * earlier file (a copy of an ingested file under a new name is not ingested again, which is not
 * what this property is about).
 */
export const caseArbitrary = (options: CaseOptions): fc.Arbitrary<Case> =>
  fc
    .record({
      pipeline: pipelineSpec(options),
      raw: fc.array(rawArrival, { minLength: 1, maxLength: 4 }),
      names: fc.uniqueArray(fc.integer({ min: 10, max: 99 }), { minLength: 8, maxLength: 8 }),
      noteFrom: options.newColumns ? fc.option(fc.nat(3), { nil: undefined }) : fc.constant(undefined),
      crlf: fc.boolean()
    })
    .map(({ pipeline, raw, names, noteFrom, crlf }): Case => {
      const existing: Array<string> = []
      const texts = new Set<string>()
      let nextName = 0
      const arrivals: Array<Arrival> = raw.map((a, k): Arrival => {
        const note = noteFrom !== undefined && k >= noteFrom
        const make = (name: string, rows: ReadonlyArray<CsvRow>, i: number): CsvFile => {
          let file: CsvFile = { name, rows, note, crlf: options.mixedLineEndings ? a.crlf[i] === true : crlf }
          while (texts.has(csvText(file)))
            file = { ...file, rows: [...file.rows, { id: "4", seq: String((file.rows.length % 5) + 1), amount: String(file.rows.length), cat: "a", note: "z" }] }
          texts.add(csvText(file))
          return file
        }
        const write: Array<CsvFile> = []
        const remove: Array<string> = []
        let files = a.files
        if (!pipeline.incremental && existing.length > 0 && a.change.kind !== "none") {
          const target = existing[a.change.pick % existing.length]!
          if (a.change.kind === "rewrite") {
            write.push(make(target, files[0]!, 0))
            files = files.slice(1)
          } else if (existing.length > 1 || files.length > 0) {
            remove.push(target)
            existing.splice(existing.indexOf(target), 1)
          }
        }
        files.forEach((rows, i) => {
          if (nextName >= names.length) return
          const name = `f${names[nextName++]}.csv`
          existing.push(name)
          write.push(make(name, rows, i))
        })
        return { write, remove }
      })
      return { pipeline, arrivals: options.orderDependent ? arrivals : distinctSequences(arrivals) }
    })

/**
 * Without the order-dependent transforms, no two rows share a sequence value: `seq` becomes its
 * drawn value times 100 plus the row's serial number, so late rows (a smaller drawn value) remain.
 */
const distinctSequences = (arrivals: ReadonlyArray<Arrival>): ReadonlyArray<Arrival> => {
  let serial = 0
  return arrivals.map((a) => ({
    ...a,
    write: a.write.map((f) => ({ ...f, rows: f.rows.map((r) => ({ ...r, seq: String(Number(r.seq) * 100 + serial++) })) }))
  }))
}

/** The pipeline's YAML. */
export const pipelineYaml = (p: PipelineSpec): string => {
  const silver = p.silver.map((s) => {
    const transforms = [
      ...(s.dedupe === undefined ? [] : [`      - dedupe: { keys: [id]${s.dedupe.order === "none" ? "" : `, order_by: "${s.dedupe.order}"`}, keep: ${s.dedupe.keep} }`]),
      `      - cast: { columns: { id: integer, seq: integer, amount: integer }, on_error: "${s.castOnError}" }`
    ]
    const expect = [
      ...(s.check === undefined ? [] : [`      - { name: non_negative, check: amount >= 0, on_fail: ${s.check} }`]),
      ...(s.notNull === undefined ? [] : [`      - { not_null: [cat], on_fail: ${s.notNull} }`]),
      ...(s.unique === undefined ? [] : [`      - { unique: [id], on_fail: ${s.unique} }`])
    ]
    return [
      `  ${s.name}:`,
      "    from: bronze.raw",
      `    mode: ${s.mode}`,
      ...(s.mode === "merge" ? ["    key: [id]", "    sequence_by: seq"] : []),
      "    transforms:",
      ...transforms,
      ...(expect.length === 0 ? [] : ["    expect:", ...expect])
    ].join("\n")
  })
  return `version: 1
pipeline: prop
sources:
  feed: { format: csv, path: "data/in/*.csv"${p.incremental ? ", incremental: true" : ""} }
bronze:
  raw: { from: feed${p.incremental ? "" : ", mode: replace"} }
silver:
${silver.join("\n")}
gold:
  totals:
    from: silver.${p.silver[p.goldFrom]!.name}
    transforms:
      - aggregate: { by: [cat], metrics: { n: "count(*)", total: sum(amount) } }
`
}
