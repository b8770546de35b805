/** Server options from `api:`: private docs, CORS. */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { TestProject } from "../support/project.ts"
import { buildWarehouse, type RunningServer, shopPlan, shopProject, startServer } from "./support.ts"

describe("API options", () => {
  let project: TestProject
  let server: RunningServer
  const key = { "x-api-key": "options-key-0123456789" }

  beforeAll(async () => {
    project = shopProject()
    const plan = shopPlan()
    await buildWarehouse(project, plan)
    server = await startServer(project, plan, {
      public_docs: false,
      cors: { origins: ["https://dash.example.com"] },
      auth: { api_keys: [{ name: "dash", key: "options-key-0123456789", scopes: ["read"] }] }
    })
  })
  afterAll(async () => {
    await server?.close()
    project?.remove()
  })

  it("asks for credentials on /openapi.json and /docs when public_docs is false", async () => {
    for (const path of ["/openapi.json", "/docs"]) {
      const denied = await server.get(path)
      assert.strictEqual(denied.status, 401, path)
      assert.strictEqual(denied.headers.get("content-type"), "application/problem+json")
      assert.strictEqual((await server.get(path, key)).status, 200, path)
    }
    assert.strictEqual((await server.get("/health")).status, 200)
  })

  it("answers CORS preflights and requests from the configured origins only", async () => {
    const preflight = await fetch(`${server.url}/gold`, {
      method: "OPTIONS",
      headers: { origin: "https://dash.example.com", "access-control-request-method": "GET", "access-control-request-headers": "x-api-key" }
    })
    assert.isBelow(preflight.status, 300)
    assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "https://dash.example.com")
    assert.include((preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase(), "x-api-key")
    const allowed = await server.get("/gold", { ...key, origin: "https://dash.example.com" })
    assert.strictEqual(allowed.status, 200)
    assert.strictEqual(allowed.headers.get("access-control-allow-origin"), "https://dash.example.com")
    // Another origin is never echoed back, so a browser refuses it the response.
    const other = await server.get("/gold", { ...key, origin: "https://evil.example.net" })
    assert.notStrictEqual(other.headers.get("access-control-allow-origin"), "https://evil.example.net")
    assert.notStrictEqual(other.headers.get("access-control-allow-origin"), "*")
  })
})
