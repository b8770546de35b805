/** A small SVG line chart (log-log): median wall time against rows, one line per variant. */

export interface Series {
  readonly name: string
  readonly color: string
  readonly dashed?: boolean
  /** [rows, seconds] points; a missing point (failed run) is left out. */
  readonly points: ReadonlyArray<readonly [number, number]>
}

const escapeXml = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
const fmtRows = (n: number) => (n >= 1e9 ? `${n / 1e9}B` : n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n))
const fmtSeconds = (s: number) => (s >= 1 ? `${s} s` : `${s * 1000} ms`)

export const lineChart = (title: string, subtitle: string, series: ReadonlyArray<Series>): string => {
  const width = 840,
    height = 460
  const margin = { left: 70, right: 280, top: 56, bottom: 56 }
  const all = series.flatMap((s) => s.points)
  const xs = all.map(([x]) => x),
    ys = all.map(([, y]) => y)
  const decade = (v: number, round: (x: number) => number) => 10 ** round(Math.log10(v))
  const xMin = all.length === 0 ? 1e5 : decade(Math.min(...xs), Math.floor)
  const xMax = all.length === 0 ? 1e8 : Math.max(decade(Math.max(...xs), Math.ceil), xMin * 10)
  const yMin = all.length === 0 ? 0.1 : decade(Math.min(...ys), Math.floor)
  const yMax = all.length === 0 ? 1000 : Math.max(decade(Math.max(...ys), Math.ceil), yMin * 10)
  const plotW = width - margin.left - margin.right,
    plotH = height - margin.top - margin.bottom
  const px = (x: number) => margin.left + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * plotW
  const py = (y: number) => margin.top + plotH - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH
  const parts: Array<string> = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`)
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`)
  parts.push(`<text x="${margin.left}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`)
  parts.push(`<text x="${margin.left}" y="40" fill="#555">${escapeXml(subtitle)}</text>`)
  for (let x = xMin; x <= xMax * 1.0001; x *= 10) {
    parts.push(`<line x1="${px(x)}" y1="${margin.top}" x2="${px(x)}" y2="${margin.top + plotH}" stroke="#ddd"/>`)
    parts.push(`<text x="${px(x)}" y="${margin.top + plotH + 18}" text-anchor="middle">${fmtRows(x)}</text>`)
  }
  for (let y = yMin; y <= yMax * 1.0001; y *= 10) {
    parts.push(`<line x1="${margin.left}" y1="${py(y)}" x2="${margin.left + plotW}" y2="${py(y)}" stroke="#ddd"/>`)
    parts.push(`<text x="${margin.left - 8}" y="${py(y) + 4}" text-anchor="end">${fmtSeconds(Number(y.toPrecision(3)))}</text>`)
    for (const minor of [2, 5]) {
      if (y * minor >= yMax) continue
      parts.push(`<line x1="${margin.left}" y1="${py(y * minor)}" x2="${margin.left + plotW}" y2="${py(y * minor)}" stroke="#f0f0f0"/>`)
      parts.push(`<text x="${margin.left - 8}" y="${py(y * minor) + 4}" text-anchor="end" fill="#999" font-size="10">${fmtSeconds(Number((y * minor).toPrecision(3)))}</text>`)
    }
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`)
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">order rows (log scale)</text>`)
  parts.push(`<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">median wall time (log scale)</text>`)
  series.forEach((s, i) => {
    const points = [...s.points].sort((a, b) => a[0] - b[0])
    if (points.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ""} points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`
      )
    }
    for (const [x, y] of points) {
      parts.push(
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="4" fill="${s.color}"><title>${escapeXml(`${s.name}: ${fmtRows(x)} rows, ${y.toFixed(2)} s`)}</title></circle>`
      )
    }
    const ly = margin.top + 10 + i * 22
    parts.push(
      `<line x1="${margin.left + plotW + 16}" y1="${ly}" x2="${margin.left + plotW + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ""}/>`
    )
    parts.push(`<circle cx="${margin.left + plotW + 28}" cy="${ly}" r="4" fill="${s.color}"/>`)
    parts.push(`<text x="${margin.left + plotW + 46}" y="${ly + 4}">${escapeXml(s.name)}</text>`)
  })
  parts.push("</svg>")
  return `${parts.join("\n")}\n`
}
