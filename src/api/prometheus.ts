/**
 * The Prometheus text exposition format (version 0.0.4) of the process's Effect metrics: counters
 * as `<name>_total`, gauges, histograms as `_bucket`/`_sum`/`_count`, frequencies as counters by
 * key and summaries as quantiles. Names have dots turned into underscores
 * (`medallion.rows.processed` -> `medallion_rows_processed_total`). Pure.
 */
import type { Metric } from "effect"

export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const metricName = (id: string) => {
  const name = id.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(name) ? name : `_${name}`
}
const labelName = (key: string) => {
  const name = key.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(name) ? name : `_${name}`
}
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const number = (n: number | bigint) => (typeof n === "bigint" ? n.toString() : Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n))

const labels = (attributes: Readonly<Record<string, unknown>> | undefined, extra: ReadonlyArray<readonly [string, string]> = []) => {
  const pairs = [...Object.entries(attributes ?? {}).map(([k, v]) => [labelName(k), String(v)] as const), ...extra]
  return pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
}

/** The snapshots in Prometheus text format, one family per metric name. */
export const render = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>): string => {
  const families = new Map<string, { type: string; help: string | undefined; lines: Array<string> }>()
  const family = (name: string, type: string, help: string | undefined) => {
    const existing = families.get(name)
    if (existing !== undefined) return existing.lines
    const created = { type, help, lines: [] as Array<string> }
    families.set(name, created)
    return created.lines
  }
  for (const s of snapshots) {
    const base = metricName(s.id)
    const attributes = s.attributes as Readonly<Record<string, unknown>> | undefined
    switch (s.type) {
      case "Counter": {
        const name = base.endsWith("_total") ? base : `${base}_total`
        family(name, "counter", s.description).push(`${name}${labels(attributes)} ${number(s.state.count)}`)
        break
      }
      case "Gauge":
        family(base, "gauge", s.description).push(`${base}${labels(attributes)} ${number(s.state.value)}`)
        break
      case "Histogram": {
        const lines = family(base, "histogram", s.description)
        for (const [boundary, count] of s.state.buckets) {
          if (boundary === Infinity) continue
          lines.push(`${base}_bucket${labels(attributes, [["le", number(boundary)]])} ${count}`)
        }
        lines.push(`${base}_bucket${labels(attributes, [["le", "+Inf"]])} ${s.state.count}`)
        lines.push(`${base}_sum${labels(attributes)} ${number(s.state.sum)}`)
        lines.push(`${base}_count${labels(attributes)} ${s.state.count}`)
        break
      }
      case "Frequency": {
        const name = `${base}_total`
        const lines = family(name, "counter", s.description)
        for (const [key, count] of s.state.occurrences) lines.push(`${name}${labels(attributes, [["key", key]])} ${count}`)
        break
      }
      case "Summary": {
        const lines = family(base, "summary", s.description)
        for (const [quantile, value] of s.state.quantiles) {
          if (value !== undefined) lines.push(`${base}${labels(attributes, [["quantile", number(quantile)]])} ${number(value)}`)
        }
        lines.push(`${base}_sum${labels(attributes)} ${number(s.state.sum)}`)
        lines.push(`${base}_count${labels(attributes)} ${s.state.count}`)
        break
      }
    }
  }
  const out: Array<string> = []
  for (const [name, f] of [...families].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${escapeHelp(f.help)}`)
    out.push(`# TYPE ${name} ${f.type}`)
    out.push(...f.lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}
