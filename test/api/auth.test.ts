/**
 * Authentication and scopes on the real server: HS256 JWTs, RS256/ES256 JWTs from a JWKS served
 * on loopback, and API keys; 401 (who are you?) versus 403 (not allowed), /health open, tokens
 * with unknown critical header parameters refused, and no configured secret in a problem response.
 */
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { TestProject } from "../support/project.ts"
import { buildWarehouse, hs256, now, type RunningServer, shopPlan, shopProject, startServer, until } from "./support.ts"

// 32 bytes or more: the settings refuse a shorter HS256 secret.
const jwtSecret = "test-secret-0123456789abcdef-0123"
const audience = "medallion-api"

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url")
const signAsymmetric = (alg: "RS256" | "ES256", key: KeyObject, kid: string, claims: Record<string, unknown>) => {
  const head = b64url(JSON.stringify({ alg, typ: "JWT", kid }))
  const body = b64url(JSON.stringify(claims))
  const data = Buffer.from(`${head}.${body}`)
  const signature = alg === "RS256" ? sign("sha256", data, key) : sign("sha256", data, { key, dsaEncoding: "ieee-p1363" })
  return `${head}.${body}.${b64url(signature)}`
}

describe("API authentication", () => {
  let project: TestProject
  let server: RunningServer
  let jwks: Server
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
  const claims = (scope: string, extra: Record<string, unknown> = {}) => ({ sub: "alice", aud: audience, exp: now() + 600, scope, ...extra })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  beforeAll(async () => {
    jwks = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          keys: [
            { ...rsa.publicKey.export({ format: "jwk" }), kid: "rsa-1", alg: "RS256", use: "sig" },
            { ...ec.publicKey.export({ format: "jwk" }), kid: "ec-1", alg: "ES256", use: "sig" }
          ]
        })
      )
    })
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve))
    project = shopProject()
    const plan = shopPlan()
    await buildWarehouse(project, plan)
    server = await startServer(project, plan, {
      auth: {
        jwt_secret: jwtSecret,
        jwks_url: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
        audience,
        api_keys: [
          { name: "dashboards", key: "read-key-0123456789", scopes: ["read"] },
          { name: "ops", key: "run-key-9876543210", scopes: ["read", "run"] }
        ]
      }
    })
  })
  afterAll(async () => {
    await server?.close()
    await new Promise<void>((resolve) => jwks.close(() => resolve()))
    project?.remove()
  })

  const assertUnauthorized = (r: { status: number; headers: Headers; body: any }, detail: RegExp) => {
    assert.strictEqual(r.status, 401, JSON.stringify(r.body))
    assert.strictEqual(r.headers.get("content-type"), "application/problem+json")
    assert.strictEqual(r.body.type, "urn:medallion:problem:unauthorized")
    assert.match(r.body.detail, detail)
    assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer realm="medallion"/)
  }

  it("leaves /health open and asks for credentials everywhere else", async () => {
    assert.strictEqual((await server.get("/health")).status, 200)
    for (const path of ["/gold", "/gold/revenue", "/pipelines", "/pipelines/shop", "/runs", "/metrics", "/metrics/prometheus"]) {
      assertUnauthorized(await server.get(path), /credentials are required/)
    }
    assertUnauthorized(await server.post("/pipelines/shop/runs"), /credentials are required/)
    const r = await server.get("/gold")
    assert.strictEqual(r.headers.get("www-authenticate"), `Bearer realm="medallion"`)
  })

  it("accepts a valid HS256 token with the read scope", async () => {
    const r = await server.get("/gold", bearer(hs256(jwtSecret, claims("read"))))
    assert.strictEqual(r.status, 200, r.text)
    assert.deepStrictEqual(
      r.body.tables.map((t: any) => t.name),
      ["orders", "revenue"]
    )
  })

  it("rejects a bad signature, an expired token, a token not yet valid, no exp, alg none, the wrong audience and garbage", async () => {
    assertUnauthorized(await server.get("/gold", bearer(hs256("another-secret", claims("read")))), /signature is not valid/)
    const expired = await server.get("/gold", bearer(hs256(jwtSecret, claims("read", { exp: now() - 3600 }))))
    assertUnauthorized(expired, /expired at/)
    assert.strictEqual(expired.headers.get("www-authenticate"), `Bearer realm="medallion", error="invalid_token"`)
    assertUnauthorized(await server.get("/gold", bearer(hs256(jwtSecret, claims("read", { nbf: now() + 3600 })))), /not valid before/)
    const { exp: _, ...noExp } = claims("read")
    assertUnauthorized(await server.get("/gold", bearer(hs256(jwtSecret, noExp))), /no exp/)
    const none = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify(claims("read")))}.`
    assertUnauthorized(await server.get("/gold", bearer(none)), /not a JWT|not accepted/)
    const noneSigned = `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify(claims("read")))}.AAAA`
    assertUnauthorized(await server.get("/gold", bearer(noneSigned)), /not accepted/)
    assertUnauthorized(await server.get("/gold", bearer(hs256(jwtSecret, claims("read", { aud: "someone-else" })))), /audience/)
    assertUnauthorized(await server.get("/gold", bearer("not.a.jwt!")), /base64url|not valid|malformed|JSON/)
    assertUnauthorized(await server.get("/gold", bearer("abc")), /not a JWT/)
    assertUnauthorized(await server.get("/gold", { authorization: "Bearer " }), /.+/)
    // The body never echoes the token.
    const token = hs256("another-secret", claims("read"))
    const r = await server.get("/gold", bearer(token))
    assert.notInclude(r.text, token)
  })

  it("rejects a token whose header lists critical parameters it does not understand (RFC 7515 crit)", async () => {
    const validToken = hs256(jwtSecret, claims("read"))
    assert.strictEqual((await server.get("/gold", bearer(validToken))).status, 200)
    // Validly signed, but the issuer says: do not accept this unless you understand `x-bind`.
    const critical = hs256(jwtSecret, claims("read"), { crit: ["x-bind"], "x-bind": "device-7" })
    assertUnauthorized(await server.get("/gold", bearer(critical)), /crit: x-bind/)
    assertUnauthorized(await server.get("/gold", bearer(hs256(jwtSecret, claims("read"), { crit: ["exp"] }))), /critical/)
    assertUnauthorized(await server.get("/gold", bearer(hs256(jwtSecret, claims("read"), { crit: [] }))), /critical/)
    assertUnauthorized(await server.get("/gold", bearer(hs256(jwtSecret, claims("read"), { crit: "x-bind" }))), /critical/)
  })

  it("never puts a configured secret in a problem response", async () => {
    // The caller typed an API key where a table name goes: the 404 names the table without it.
    const r = await server.get("/gold/read-key-0123456789", { "x-api-key": "run-key-9876543210" })
    assert.strictEqual(r.status, 404, r.text)
    assert.strictEqual(r.headers.get("content-type"), "application/problem+json")
    assert.notInclude(r.text, "read-key-0123456789")
    assert.include(r.text, "[redacted]")
  })

  it("answers 403 when the credentials lack the scope, naming it", async () => {
    const readOnly = bearer(hs256(jwtSecret, claims("read")))
    const forbidden = await server.post("/pipelines/shop/runs", undefined, readOnly)
    assert.strictEqual(forbidden.status, 403)
    assert.strictEqual(forbidden.body.type, "urn:medallion:problem:forbidden")
    assert.strictEqual(forbidden.body.required_scope, "run")
    const runOnly = bearer(hs256(jwtSecret, claims("run")))
    const noRead = await server.get("/gold", runOnly)
    assert.strictEqual(noRead.status, 403)
    assert.strictEqual(noRead.body.required_scope, "read")
    const noScope = await server.get("/runs", bearer(hs256(jwtSecret, claims(""))))
    assert.strictEqual(noScope.status, 403)
    // An unknown pipeline is still a 403 without the run scope: nothing is revealed before authorization.
    assert.strictEqual((await server.post("/pipelines/nope/runs", undefined, readOnly)).status, 403)
  })

  it("lets a token with the run scope start a run", async () => {
    const r = await server.post("/pipelines/shop/runs", undefined, bearer(hs256(jwtSecret, claims("read run"))))
    assert.strictEqual(r.status, 202, r.text)
    const read = bearer(hs256(jwtSecret, claims("read")))
    // Polls until the run reads as succeeded; a failed poll names what it got instead of throwing.
    let last = ""
    await until("the run to finish", async () => {
      const got = await server.get(`/runs/${r.body.batch_id}`, read)
      last = `${got.status} ${got.text}`
      return got.body?.run?.status === "succeeded"
    }).catch((e: unknown) => assert.fail(`${String(e)}; last answer: ${last}`))
  })

  it("verifies RS256 and ES256 tokens against the JWKS, and refuses key confusion", async () => {
    assert.strictEqual((await server.get("/gold", bearer(signAsymmetric("RS256", rsa.privateKey, "rsa-1", claims("read"))))).status, 200)
    assert.strictEqual((await server.get("/gold", bearer(signAsymmetric("ES256", ec.privateKey, "ec-1", claims("read"))))).status, 200)
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 })
    assertUnauthorized(await server.get("/gold", bearer(signAsymmetric("RS256", other.privateKey, "rsa-1", claims("read")))), /signature is not valid/)
    assertUnauthorized(await server.get("/gold", bearer(signAsymmetric("RS256", rsa.privateKey, "unknown-kid", claims("read")))), /no RS256 key with kid unknown-kid/)
    // The RSA public key used as an HS256 secret must not verify.
    const publicPem = rsa.publicKey.export({ format: "pem", type: "spki" }).toString()
    assertUnauthorized(await server.get("/gold", bearer(hs256(publicPem, claims("read"), { kid: "rsa-1" }))), /signature is not valid/)
    assertUnauthorized(await server.get("/gold", bearer(signAsymmetric("RS256", rsa.privateKey, "rsa-1", claims("read", { exp: now() - 100 })))), /expired/)
  })

  it("accepts API keys with their configured scopes", async () => {
    assert.strictEqual((await server.get("/pipelines", { "x-api-key": "read-key-0123456789" })).status, 200)
    const denied = await server.post("/pipelines/shop/runs", undefined, { "x-api-key": "read-key-0123456789" })
    assert.strictEqual(denied.status, 403)
    assertUnauthorized(await server.get("/pipelines", { "x-api-key": "read-key-012345678" }), /API key is not valid/)
    const run = await server.post("/pipelines/slow/runs", undefined, { "x-api-key": "run-key-9876543210" })
    assert.strictEqual(run.status, 202, run.text)
    await until("the run to finish", async () => (await server.get(`/runs/${run.body.batch_id}`, { "x-api-key": "run-key-9876543210" })).body.run.status === "succeeded", 60_000)
  }, 90_000)

  it("keeps the API description public by default", async () => {
    assert.strictEqual((await server.get("/openapi.json")).status, 200)
    assert.strictEqual((await server.get("/docs")).status, 200)
  })
})
