/**
 * Generates the retail example's landing data, deterministically (seeded PRNG, node builtins only):
 *
 *   data/retail/customers.ndjson        80 customers with PII, plus dirty records
 *   data/retail/fx_rates.json           rates to USD for the currencies the shop takes
 *   data/retail/orders/orders_2024-MM.csv   one file per month (Jan..Mar 2024), appended by file
 *
 * Run from the project directory: `node data/retail/generate.ts`. The output is committed; the
 * example's tests count on the dirty rows below, so change the counts there when changing them here.
 *
 * Dirty customer records (silver.customers):
 *   3 same-key duplicates (an older version of a customer)        -> duplicates
 *   1 exact duplicate line                                         -> duplicates
 *   1 record without id                                            -> quarantined (not_null)
 *   2 unparseable signup dates                                     -> kept, signup_date null (cast on_error: null)
 *   1 country spelled out ("Germany")                              -> kept, warned (accepted_values)
 *   1 email without "@"                                            -> kept, warned (check valid_email)
 *
 * Dirty order lines (bronze.orders, then silver.orders):
 *   2 lines with too many columns, 2 with too few                  -> rejected by the CSV reader
 *   5 exact duplicate lines, 4 older versions of an order          -> duplicates (dedupe)
 *   2 without order_id                                             -> dropped (drop_nulls)
 *   3 test orders (channel TEST)                                   -> dropped (filter)
 *   2 unknown customers                                            -> dropped (relationships known_customer)
 *   2 amounts that are not numbers, 3 unparseable timestamps        -> quarantined (cast on_error: quarantine)
 *   2 negative amounts and 1 zero amount                            -> quarantined (check positive_amount)
 *   2 without customer, 1 without timestamp                         -> quarantined (not_null)
 *   2 in an unknown currency (BTC)                                  -> quarantined (relationships known_currency)
 *   2 with status on_hold                                           -> kept, warned (accepted_values)
 *   3 without currency, discounts "n/a" or empty, stray spaces and mixed case -> cleaned and kept
 * 324 orders are generated: 4 become malformed lines, 320 are well-formed, 300 reach silver.orders.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const here = import.meta.dirname

// mulberry32: small, fast and good enough for test data.
let state = 20240301
const random = (): number => {
  state = (state + 0x6d2b79f5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))
const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
const weighted = <A>(items: ReadonlyArray<readonly [A, number]>): A => {
  let r = random() * items.reduce((a, [, w]) => a + w, 0)
  for (const [item, w] of items) if ((r -= w) < 0) return item
  return items[items.length - 1]![0]
}
const pad = (n: number, width = 2) => String(n).padStart(width, "0")
const isoDate = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
const isoTime = (d: Date) => `${isoDate(d)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
const day = 86_400_000

// ---------------------------------------------------------------------------------------------
// Customers

const firstNames = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "John",
  "Katherine", "Edsger", "Radia", "Donald", "Hedy", "Tim", "Sophie", "Niklaus", "Anita", "Guido",
  "Karen", "Bjarne", "Shafi", "Leslie", "Jean", "Claude", "Mary", "Vint", "Lynn", "Whitfield"]
const lastNames = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
  "McCarthy", "Johnson", "Dijkstra", "Perlman", "Knuth", "Lamarr", "Berners-Lee", "Wilson", "Wirth", "Borg",
  "van Rossum", "Jones", "Stroustrup", "Goldwasser", "Lamport", "Bartik", "Shannon", "Keller", "Cerf", "Conway", "Diffie"]
const domains = ["example.com", "example.org", "mail.example.net", "shop.example"]
const countries = [["US", 30], ["GB", 20], ["DE", 15], ["FR", 15], ["NL", 10], ["ES", 10]] as const
const currencyOf: Record<string, string> = { US: "USD", GB: "GBP", DE: "EUR", FR: "EUR", NL: "EUR", ES: "EUR" }
const phoneOf = (country: string): string => {
  switch (country) {
    case "US": return `+1 (${int(200, 989)}) 555-${pad(int(0, 9999), 4)}`
    case "GB": return `+44 20 7946 ${pad(int(0, 9999), 4)}`
    case "DE": return `+49 30 ${int(1000000, 9999999)}`
    case "FR": return `+33 1 ${pad(int(0, 99))} ${pad(int(0, 99))} ${pad(int(0, 99))} ${pad(int(0, 99))}`
    case "NL": return `+31 20 ${int(1000000, 9999999)}`
    default: return `+34 91 ${int(100, 999)} ${int(10, 99)} ${int(10, 99)}`
  }
}

interface Customer {
  id: number | null
  full_name: string
  email: string | null
  phone: string
  country: string
  segment: string | null
  signup_date: string
  date_of_birth: string
  updated_at: string
}

const customers: Array<Customer> = []
for (let id = 1; id <= 80; id++) {
  const first = pick(firstNames), last = pick(lastNames)
  const country = weighted(countries)
  const local = `${first}.${last}`.replaceAll(" ", "").toLowerCase() + (random() < 0.3 ? String(int(1, 99)) : "")
  let email = `${local}@${pick(domains)}`
  if (random() < 0.2) email = email.replace(/^./, (c) => c.toUpperCase()).replace(/\.(com|org|net)$/, (t) => t.toUpperCase())
  if (random() < 0.15) email = ` ${email} `
  const signup = new Date(Date.UTC(2022, 0, 1) + int(0, 729) * day)
  customers.push({
    id,
    full_name: random() < 0.1 ? ` ${first} ${last}` : `${first} ${last}`,
    email,
    phone: phoneOf(country),
    country: random() < 0.1 ? country.toLowerCase() : country,
    segment: weighted([["consumer", 70], ["business", 25], [null, 5]]),
    signup_date: isoDate(signup),
    date_of_birth: isoDate(new Date(Date.UTC(1950, 0, 1) + int(0, 54 * 365) * day)),
    updated_at: `${isoDate(new Date(signup.getTime() + int(0, 300) * day))}T09:00:00Z`
  })
}
const customerById = (id: number) => customers[id - 1]!

// Dirty records. Keep the counts in the header comment (and the example's tests) in step.
customerById(33).signup_date = "2023-02-30"
customerById(61).signup_date = "soon"
customerById(71).country = "Germany"
customerById(77).email = "no-at-sign.example.com"
const customerLines = customers.map((c) => JSON.stringify(c))
// Older versions of three customers (the later updated_at wins), placed before and after the current one.
for (const [id, at] of [[5, 2], [12, 40], [40, 10]] as const) {
  const current = customerById(id)
  const older = { ...current, email: `old.${current.email!.trim()}`, segment: "consumer", updated_at: "2022-06-01T09:00:00Z" }
  customerLines.splice(at, 0, JSON.stringify(older))
}
customerLines.splice(55, 0, JSON.stringify(customerById(20)))
customerLines.splice(66, 0, JSON.stringify({ ...customerById(64), id: null, email: "ghost@example.com", full_name: "Ghost Record" }))

// ---------------------------------------------------------------------------------------------
// Currencies

const fxRates = [
  { currency: "USD", rate_to_usd: 1, as_of: "2024-01-01" },
  { currency: "EUR", rate_to_usd: 1.0921, as_of: "2024-01-01" },
  { currency: "GBP", rate_to_usd: 1.2715, as_of: "2024-01-01" },
  { currency: "CHF", rate_to_usd: 1.1782, as_of: "2024-01-01" }
]

// ---------------------------------------------------------------------------------------------
// Orders

const header = ["order_id", "cust_id", "order_ts", "amount", "currency", "discount", "status", "channel", "updated_at", "internal_note"] as const
type Order = Record<(typeof header)[number], string>

const start = Date.UTC(2024, 0, 1), end = Date.UTC(2024, 2, 31, 23, 59, 59)
const times = Array.from({ length: 324 }, () => start + Math.floor(random() * (end - start))).sort((a, b) => a - b)
const notes = ["gift wrap, no invoice", "customer said \"asap\"", "priority", "leave at the door"]
const orders: Array<Order> = times.map((t, i) => {
  const customer = customerById(int(1, 80))
  const amount = int(500, 40000) / 100
  const status = weighted([["completed", 60], ["shipped", 15], ["placed", 10], ["returned", 8], ["cancelled", 7]] as const)
  const channel = weighted([["web", 55], ["mobile", 35], ["store", 10]] as const)
  const discountKind = weighted([["none", 75], ["ten", 20], ["na", 5]] as const)
  return {
    order_id: String(1001 + i),
    cust_id: String(customer.id),
    order_ts: isoTime(new Date(t)),
    amount: amount.toFixed(2),
    currency: currencyOf[customer.country.toUpperCase()] ?? "EUR",
    discount: discountKind === "none" ? "" : discountKind === "ten" ? (amount / 10).toFixed(2) : "n/a",
    status: random() < 0.1 ? status.toUpperCase() : random() < 0.05 ? ` ${status} ` : status,
    channel: random() < 0.1 ? channel[0]!.toUpperCase() + channel.slice(1) : channel,
    updated_at: isoTime(new Date(t + int(0, 72 * 3600) * 1000)),
    internal_note: random() < 0.1 ? pick(notes) : ""
  }
})

// Each defect goes to its own randomly chosen orders, so every dirty row has exactly one defect.
const free = orders.map((_, i) => i)
const take = (month?: string): Order => {
  const candidates = free.filter((i) => month === undefined || isoDate(new Date(times[i]!)).startsWith(month))
  const chosen = candidates[Math.floor(random() * candidates.length)]!
  free.splice(free.indexOf(chosen), 1)
  return orders[chosen]!
}
const apply = (count: number, defect: (o: Order, n: number) => void) => {
  for (let n = 0; n < count; n++) defect(take(), n)
}
// Malformed lines in every file: too many columns in January and March, too few in February and March.
const malformed = new Map<Order, "too_many" | "too_few">()
malformed.set(take("2024-01"), "too_many")
malformed.set(take("2024-02"), "too_few")
malformed.set(take("2024-03"), "too_many")
malformed.set(take("2024-03"), "too_few")
apply(2, (o) => (o.order_id = ""))
apply(3, (o) => (o.channel = "TEST"))
apply(2, (o, n) => (o.cust_id = ["999", "4040"][n]!))
apply(2, (o, n) => (o.amount = ["abc", "12.3.4"][n]!))
apply(3, (o, n) => (o.order_ts = [o.order_ts.slice(0, 8) + "31 25:61:00", "yesterday", "31/01/2024 09:15"][n]!))
apply(3, (o, n) => (o.amount = ["-25.00", "-3.50", "0.00"][n]!))
apply(2, (o) => (o.cust_id = ""))
apply(1, (o) => (o.order_ts = ""))
apply(2, (o) => (o.currency = "BTC"))
apply(2, (o) => (o.status = "on_hold"))
apply(3, (o) => (o.currency = ""))
const exactDuplicates = Array.from({ length: 5 }, () => take())
const olderVersions = Array.from({ length: 4 }, () => take()).map((o) => ({
  ...o, status: "placed", amount: (Number(o.amount) + 10).toFixed(2), updated_at: o.order_ts
}))

const csvField = (value: string) => (/[",\n]/.test(value) ? `"${value.replaceAll("\"", "\"\"")}"` : value)
const csvLine = (o: Order) => {
  const fields = header.map((h) => csvField(o[h]))
  const kind = malformed.get(o)
  return (kind === "too_many" ? [...fields, "EXTRA"] : kind === "too_few" ? fields.slice(0, 5) : fields).join(",")
}

const months = ["2024-01", "2024-02", "2024-03"]
// Defects may have broken the timestamp: the month comes from the order's original time.
const monthOf = (o: Order) => isoDate(new Date(times[orders.indexOf(o)]!)).slice(0, 7)
mkdirSync(join(here, "orders"), { recursive: true })
for (const month of months) {
  const lines = orders.filter((o) => monthOf(o) === month).map(csvLine)
  // Duplicates and older versions land at random places in their order's own file.
  for (const o of [...exactDuplicates, ...olderVersions]) {
    const original = orders.find((x) => x.order_id === o.order_id)!
    if (monthOf(original) !== month) continue
    lines.splice(int(0, lines.length), 0, csvLine(o))
  }
  writeFileSync(join(here, "orders", `orders_${month}.csv`), [header.join(","), ...lines].join("\n") + "\n")
}
writeFileSync(join(here, "customers.ndjson"), customerLines.join("\n") + "\n")
writeFileSync(join(here, "fx_rates.json"), JSON.stringify(fxRates, null, 2) + "\n")
