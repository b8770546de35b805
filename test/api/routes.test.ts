/** Server span names after the OpenTelemetry HTTP conventions: `{method} {route}`, the route as OpenAPI writes it. */
import { assert, describe, it } from "@effect/vitest"
import { HttpServerRequest } from "effect/http"
import { routeTemplate, serverSpanName } from "../../src/api/middleware.ts"

const request = (method: string, url: string) => HttpServerRequest.fromWeb(new Request(`http://127.0.0.1${url}`, { method })).modify({ url })

describe("server span names", () => {
  it("names a request by its method and the template of the route it matches", () => {
    assert.strictEqual(serverSpanName(request("POST", "/pipelines/retail_orders/runs")), "POST /pipelines/{name}/runs")
    assert.strictEqual(serverSpanName(request("GET", "/gold/daily_revenue?country=US&limit=20")), "GET /gold/{table}")
    assert.strictEqual(serverSpanName(request("GET", "/runs/20261126T160455123Z-9f3a01c2")), "GET /runs/{batch_id}")
    assert.strictEqual(serverSpanName(request("GET", "/health")), "GET /health")
    assert.strictEqual(serverSpanName(request("GET", "/openapi.json")), "GET /openapi.json")
  })

  it("prefers a static segment to a parameter, and HEAD takes GET's routes", () => {
    assert.strictEqual(routeTemplate("GET", "/metrics/prometheus"), "/metrics/prometheus")
    assert.strictEqual(routeTemplate("HEAD", "/pipelines/shop"), "/pipelines/{name}")
  })

  it("names what no route matches by its method alone, and an unknown method HTTP", () => {
    assert.strictEqual(serverSpanName(request("GET", "/pipelines/shop/runs")), "GET", "only POST has that route")
    assert.strictEqual(serverSpanName(request("GET", "/nope/x")), "GET")
    assert.strictEqual(serverSpanName(request("GET", "/gold/")), "GET", "an empty parameter matches nothing")
    assert.strictEqual(serverSpanName(request("BREW", "/gold")), "HTTP")
  })
})
