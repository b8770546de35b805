/**
 * Test support for the API: a project whose warehouse is built by applying a small pipeline, the
 * real server (src/api/server.ts) started in this process on an ephemeral 127.0.0.1 port over that
 * warehouse, and HTTP helpers.
 */
import { createHmac } from "node:crypto"
import { Effect, Exit, Layer, Schema, Scope } from "effect"
import { apiConfig } from "../../src/api/config.ts"
import * as Server from "../../src/api/server.ts"
import type { Plan } from "../../src/plan/Plan.ts"
import { SettingsSchema } from "../../src/settings/Settings.ts"
import { engine, makeProject, planOf, runPlan, type TestProject } from "../support/project.ts"

/** A marker stored only in silver and bronze: it must never appear in an API answer about gold. */
export const secret = "SECRET-NOTE-7f3a9c"

export const shop = `
version: 1
pipeline: shop
description: Orders rolled up by day and country
schedule: { cron: "0 3 * * *", timezone: Europe/Berlin }
sources:
  orders_raw: { format: csv, path: data/orders.csv }
  notes_raw: { format: csv, path: data/notes.csv }
bronze:
  orders: { from: orders_raw }
  notes: { from: notes_raw }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { id: int, amount: "decimal(10,2)", day: date, paid: boolean, ordered_at: timestamp, big: bigint }
      - select: [id, amount, day, country, paid, ordered_at, big]
    expect:
      - { name: positive_amount, check: amount > 0, on_fail: quarantine }
  notes:
    from: bronze.notes
gold:
  revenue:
    description: Revenue per day and country
    from: silver.orders
    transforms:
      - aggregate: { by: [day, country], metrics: { revenue: sum(amount), orders: count(*) } }
  orders:
    from: silver.orders
`

const slow = `
version: 1
pipeline: slow
gold:
  total:
    sql: select sum(a.range * b.range) as s from range(12000) a, range(10000) b
`

const countries = ["US", "FR", "DE", "JP", "BR"]
/** 60 orders over 4 days and 5 countries; order 13 has a negative amount (quarantined). */
export const ordersCsv = () => {
  const lines = ["id,amount,day,country,paid,ordered_at,big"]
  for (let i = 1; i <= 60; i++) {
    const amount = i === 13 ? "-5.00" : (i * 7.25).toFixed(2)
    const day = `2024-01-0${1 + (i % 4)}`
    lines.push(`${i},${amount},${day},${countries[i % 5]},${i % 2 === 0},${day} ${String(i % 24).padStart(2, "0")}:15:00,${9007199254740993n + BigInt(i)}`)
  }
  return `${lines.join("\n")}\n`
}

export const shopProject = (files: Readonly<Record<string, string>> = {}) =>
  makeProject({
    "pipelines/shop.yaml": shop,
    "pipelines/slow.yaml": slow,
    "data/orders.csv": ordersCsv(),
    "data/notes.csv": `id,note\n1,${secret}\n2,also ${secret} here\n`,
    "config/default.yaml": "duckdb: { threads: 2 }\n",
    ...files
  })

/** Builds the warehouse: applies the shop pipeline (not the slow one). */
export const buildWarehouse = (project: TestProject, plan: Plan) =>
  Effect.runPromise(runPlan(project, plan, ["layer:bronze", "silver.orders", "silver.notes", "gold.revenue", "gold.orders"]).pipe(Effect.provide(engine(project)), Effect.scoped))

export const shopPlan = () => planOf(shop, slow)

export interface RunningServer {
  readonly url: string
  readonly close: () => Promise<void>
  readonly get: (path: string, headers?: Readonly<Record<string, string>>) => Promise<{ status: number; headers: Headers; body: any; text: string }>
  readonly post: (path: string, body?: unknown, headers?: Readonly<Record<string, string>>) => Promise<{ status: number; headers: Headers; body: any; text: string }>
}

/** Starts the real server over the project's warehouse on an ephemeral loopback port; `api` as a config file writes it. */
export const startServer = async (project: TestProject, plan: Plan, api: (typeof SettingsSchema.Encoded)["api"] = {}): Promise<RunningServer> => {
  const scope = Effect.runSync(Scope.make())
  const layer = Server.layer({
    plan,
    projectDir: project.dir,
    env: "test",
    concurrency: 2,
    api: apiConfig(Schema.decodeUnknownSync(SettingsSchema)({ api }).api, { host: "127.0.0.1", port: 0 })
  }).pipe(Layer.provideMerge(engine(project)))
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const url = await Effect.runPromise(Server.address.pipe(Effect.provideContext(context)))
  const read = async (response: Response) => {
    const text = await response.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    return { status: response.status, headers: response.headers, body, text }
  }
  return {
    url,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
    get: async (path, headers = {}) => read(await fetch(`${url}${path}`, { headers })),
    post: async (path, body, headers = {}) =>
      read(
        await fetch(`${url}${path}`, {
          method: "POST",
          headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
          ...(body === undefined ? {} : { body: JSON.stringify(body) })
        })
      )
  }
}

/** Polls until `check` passes (or fails after `timeoutMs`). */
export { until } from "../support/processes.ts"

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url")

/** An HS256 JWT signed with `secret`. */
export const hs256 = (secretKey: string, claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT", ...header }))
  const body = b64url(JSON.stringify(claims))
  const signature = createHmac("sha256", secretKey).update(`${head}.${body}`).digest("base64url")
  return `${head}.${body}.${signature}`
}

export const now = () => Math.floor(Date.now() / 1000)
