/**
 * Who is calling: bearer JWTs (HS256 with a shared secret, or RS256/ES256 with keys from a JWKS
 * URL) and API keys, verified with WebCrypto (crypto.subtle), so the same code runs on Node and
 * Deno. A token must carry `exp`; `nbf`, `iss` and `aud` are checked when present or configured;
 * a token whose header lists `crit` parameters is refused (none are understood here); scopes come
 * from the space-separated `scope` claim. API keys are compared by SHA-256 digest in
 * constant time. Owns verification only; which scope a route needs is the API's business.
 */
import { Clock, Data, Effect, Option, Redacted, Result, Schema, Semaphore } from "effect"
import { Base64Url } from "effect/encoding"
import { HttpClient, HttpClientResponse } from "effect/http"
import * as Secrets from "../secrets/Secrets.ts"

interface ApiKeyConfig {
  readonly name: string
  readonly key: Redacted.Redacted<string>
  readonly scopes: ReadonlyArray<"read" | "run">
}

export interface AuthConfig {
  /** HS256 shared secret; empty or absent: no HS256 tokens. */
  readonly jwtSecret?: Redacted.Redacted<string> | undefined
  /** Where the RS256/ES256 verification keys are (a JSON Web Key Set). */
  readonly jwksUrl?: string | undefined
  readonly issuer?: string | undefined
  readonly audience?: string | undefined
  readonly apiKeys?: ReadonlyArray<ApiKeyConfig> | undefined
  /** Clock skew allowed for exp and nbf, in seconds (default 30). */
  readonly leewaySeconds?: number | undefined
}

export interface Principal {
  readonly subject: string
  readonly method: "jwt" | "api-key" | "none"
  readonly scopes: ReadonlySet<string>
}

/** Why a request is not authenticated; `detail` is safe to show the caller (no secrets, no token). */
export class AuthFailure extends Data.TaggedError("AuthFailure")<{ readonly detail: string; readonly tokenGiven: boolean }> {}

export interface Credentials {
  /** The Authorization header's bearer token, if any. */
  readonly bearer: string | undefined
  readonly apiKey: string | undefined
}

export interface Authenticator {
  /** False when nothing is configured: every request is let in with all scopes. */
  readonly enabled: boolean
  readonly methods: ReadonlyArray<string>
  readonly authenticate: (credentials: Credentials) => Effect.Effect<Principal, AuthFailure>
}

const JwtHeader = Schema.Struct({
  alg: Schema.String,
  kid: Schema.optionalKey(Schema.String),
  typ: Schema.optionalKey(Schema.String),
  crit: Schema.optionalKey(Schema.Unknown)
})
const NumericDate = Schema.Number.check(Schema.isFinite())
const JwtClaims = Schema.Struct({
  sub: Schema.optionalKey(Schema.String),
  exp: Schema.optionalKey(NumericDate),
  nbf: Schema.optionalKey(NumericDate),
  iss: Schema.optionalKey(Schema.String),
  aud: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  scope: Schema.optionalKey(Schema.String)
})
const decodeHeader = Schema.decodeUnknownResult(Schema.fromJsonString(JwtHeader))
const decodeClaims = Schema.decodeUnknownResult(Schema.fromJsonString(JwtClaims))

const Jwk = Schema.Struct({
  kty: Schema.String,
  kid: Schema.optionalKey(Schema.String),
  alg: Schema.optionalKey(Schema.String),
  use: Schema.optionalKey(Schema.String),
  crv: Schema.optionalKey(Schema.String),
  n: Schema.optionalKey(Schema.String),
  e: Schema.optionalKey(Schema.String),
  x: Schema.optionalKey(Schema.String),
  y: Schema.optionalKey(Schema.String)
})
type Jwk = typeof Jwk.Type
const Jwks = Schema.Struct({ keys: Schema.Array(Schema.Unknown) })

const encoder = new TextEncoder()
const fail = (detail: string, tokenGiven = true) => Effect.fail(new AuthFailure({ detail, tokenGiven }))

const subtle = () => globalThis.crypto.subtle

/** Algorithms accepted per key type: a key is only ever used with its own algorithm. */
const algorithms = {
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verify: { name: "RSASSA-PKCS1-v1_5" } },
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } }
} as const
type AsymmetricAlg = keyof typeof algorithms

const algOf = (jwk: Jwk): AsymmetricAlg | undefined => {
  if (jwk.use !== undefined && jwk.use !== "sig") return undefined
  if (jwk.kty === "RSA" && (jwk.alg === undefined || jwk.alg === "RS256")) return "RS256"
  if (jwk.kty === "EC" && jwk.crv === "P-256" && (jwk.alg === undefined || jwk.alg === "ES256")) return "ES256"
  return undefined
}

interface VerificationKey {
  readonly kid: string | undefined
  readonly alg: AsymmetricAlg
  readonly key: CryptoKey
}

const importJwks = (body: unknown) =>
  Effect.gen(function* () {
    const set = Schema.decodeUnknownResult(Jwks)(body)
    if (Result.isFailure(set)) return yield* Effect.fail("the JWKS document has no keys array")
    const keys: Array<VerificationKey> = []
    for (const raw of set.success.keys) {
      const jwk = Schema.decodeUnknownResult(Jwk)(raw)
      if (Result.isFailure(jwk)) continue
      const alg = algOf(jwk.success)
      if (alg === undefined) continue
      const key = yield* Effect.tryPromise(() => subtle().importKey("jwk", raw as JsonWebKey, algorithms[alg].import, false, ["verify"])).pipe(Effect.option)
      if (Option.isSome(key)) keys.push({ kid: jwk.success.kid, alg, key: key.value })
    }
    return keys
  })

/** Constant-time equality of two equally long byte arrays (digests). */
const sameBytes = (a: Uint8Array, b: Uint8Array) => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

const sha256 = (text: string) => Effect.promise(() => subtle().digest("SHA-256", encoder.encode(text))).pipe(Effect.map((d) => new Uint8Array(d)))

const scopesOf = (scope: string | undefined): ReadonlySet<string> => new Set((scope ?? "").split(" ").filter((s) => s !== ""))

/**
 * Builds the authenticator. With a JWKS URL it needs an HttpClient; keys are fetched on first use,
 * kept for 10 minutes, and fetched again (at most every 30 s) when a token names an unknown kid.
 */
export const make = Effect.fnUntraced(function* (config: AuthConfig) {
  const client = config.jwksUrl === undefined ? undefined : yield* HttpClient.HttpClient
  const secret = config.jwtSecret === undefined || Redacted.value(config.jwtSecret) === "" ? undefined : config.jwtSecret
  Secrets.register(secret, ...(config.apiKeys ?? []).map((k) => k.key))
  const hmacKey =
    secret === undefined
      ? undefined
      : yield* Effect.promise(() => subtle().importKey("raw", encoder.encode(Redacted.value(secret)), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]))
  const apiKeys = yield* Effect.forEach(config.apiKeys ?? [], (k) => Effect.map(sha256(Redacted.value(k.key)), (digest) => ({ ...k, digest })))
  const leeway = config.leewaySeconds ?? 30
  const methods = [
    ...(secret === undefined ? [] : ["jwt (HS256)"]),
    ...(config.jwksUrl === undefined ? [] : ["jwt (JWKS)"]),
    ...(apiKeys.length === 0 ? [] : [`api keys (${apiKeys.length})`])
  ]

  // JWKS cache.
  const lock = yield* Semaphore.make(1)
  let jwks: { readonly keys: ReadonlyArray<VerificationKey>; readonly fetchedAt: number } | undefined
  const fetchJwks = (url: string, http: HttpClient.HttpClient) =>
    http.get(url).pipe(
      Effect.flatMap(HttpClientResponse.filterStatusOk),
      Effect.flatMap((response) => response.json),
      Effect.timeout("5 seconds"),
      Effect.mapError((e) => `cannot fetch the JWKS from ${url}: ${e instanceof Error ? e.message : String(e)}`),
      Effect.flatMap(importJwks)
    )
  const keysFor = (kid: string | undefined) =>
    lock.withPermits(1)(
      Effect.gen(function* () {
        if (config.jwksUrl === undefined || client === undefined) return []
        const now = yield* Clock.currentTimeMillis
        const known = jwks?.keys.some((k) => kid === undefined || k.kid === kid)
        const age = jwks === undefined ? Infinity : now - jwks.fetchedAt
        if (age > 600_000 || (!known && age > 30_000)) {
          const fetched = yield* Effect.result(fetchJwks(config.jwksUrl, client))
          if (Result.isSuccess(fetched)) jwks = { keys: fetched.success, fetchedAt: now }
          else yield* Effect.logWarning(fetched.failure)
        }
        return (jwks?.keys ?? []).filter((k) => kid === undefined || k.kid === kid)
      })
    )

  const verifyJwt = (token: string) =>
    Effect.gen(function* () {
      const parts = token.split(".")
      if (parts.length !== 3 || parts.some((p) => p === "")) return yield* fail("the bearer token is not a JWT (header.payload.signature)")
      const [headerPart, payloadPart, signaturePart] = parts as [string, string, string]
      const headerText = Base64Url.decodeString(headerPart)
      const payloadText = Base64Url.decodeString(payloadPart)
      const signature = Base64Url.decode(signaturePart)
      if (Result.isFailure(headerText) || Result.isFailure(payloadText) || Result.isFailure(signature)) return yield* fail("the bearer token is not valid base64url")
      const header = decodeHeader(headerText.success)
      const claims = decodeClaims(payloadText.success)
      if (Result.isFailure(header)) return yield* fail("the token header is not valid JSON with an alg")
      // RFC 7515, section 4.1.11: a recipient must reject a token whose `crit` names header
      // parameters it does not understand; this one understands no extensions.
      if ("crit" in header.success) {
        const names = Array.isArray(header.success.crit) ? header.success.crit.filter((n): n is string => typeof n === "string") : []
        return yield* fail(
          `the token header marks parameters as critical (crit${names.length === 0 ? "" : `: ${names.join(", ").slice(0, 80)}`}) that this server does not understand`
        )
      }
      if (Result.isFailure(claims)) return yield* fail("the token claims are malformed (exp, nbf must be numbers; scope a string)")
      const signed = encoder.encode(`${headerPart}.${payloadPart}`)
      const alg = header.success.alg
      let valid = false
      if (alg === "HS256") {
        if (hmacKey === undefined) return yield* fail("HS256 tokens are not accepted here (no api.auth.jwt_secret is configured)")
        valid = yield* Effect.promise(() => subtle().verify("HMAC", hmacKey, signature.success as Uint8Array<ArrayBuffer>, signed))
      } else if (alg === "RS256" || alg === "ES256") {
        const candidates = (yield* keysFor(header.success.kid)).filter((k) => k.alg === alg)
        if (candidates.length === 0) {
          return yield* fail(
            config.jwksUrl === undefined
              ? `${alg} tokens are not accepted here (no api.auth.jwks_url is configured)`
              : `no ${alg} key${header.success.kid === undefined ? "" : ` with kid ${header.success.kid}`} in the JWKS`
          )
        }
        for (const candidate of candidates) {
          if (valid) break
          valid = yield* Effect.promise(() => subtle().verify(algorithms[alg].verify, candidate.key, signature.success as Uint8Array<ArrayBuffer>, signed)).pipe(
            Effect.catchDefect(() => Effect.succeed(false))
          )
        }
      } else {
        return yield* fail(`token algorithm ${JSON.stringify(alg).slice(0, 40)} is not accepted (HS256, RS256 or ES256)`)
      }
      if (!valid) return yield* fail("the token signature is not valid")
      const c = claims.success
      const now = (yield* Clock.currentTimeMillis) / 1000
      if (c.exp === undefined) return yield* fail("the token has no exp (expiry) claim")
      if (now > c.exp + leeway) return yield* fail(`the token expired at ${new Date(c.exp * 1000).toISOString()}`)
      if (c.nbf !== undefined && now + leeway < c.nbf) return yield* fail(`the token is not valid before ${new Date(c.nbf * 1000).toISOString()}`)
      if (config.issuer !== undefined && c.iss !== config.issuer) return yield* fail("the token's issuer (iss) is not the configured one")
      if (config.audience !== undefined) {
        const audiences = c.aud === undefined ? [] : typeof c.aud === "string" ? [c.aud] : c.aud
        if (!audiences.includes(config.audience)) return yield* fail("the token's audience (aud) does not include this API")
      }
      return { subject: c.sub ?? "(no sub)", method: "jwt", scopes: scopesOf(c.scope) } satisfies Principal
    })

  const verifyApiKey = (key: string) =>
    Effect.gen(function* () {
      const digest = yield* sha256(key)
      // Compare against every key, so the time taken does not tell which one matched.
      let found: (typeof apiKeys)[number] | undefined
      for (const k of apiKeys) if (sameBytes(k.digest, digest)) found = k
      if (found === undefined) return yield* fail("the API key is not valid")
      return { subject: `api-key:${found.name}`, method: "api-key", scopes: new Set(found.scopes) } satisfies Principal
    })

  const enabled = methods.length > 0
  const authenticate = (credentials: Credentials): Effect.Effect<Principal, AuthFailure> => {
    if (!enabled) return Effect.succeed({ subject: "anonymous", method: "none", scopes: new Set(["read", "run"]) })
    if (credentials.bearer !== undefined) {
      if (secret === undefined && config.jwksUrl === undefined) return fail("bearer tokens are not accepted here; use an API key (X-API-Key)")
      return verifyJwt(credentials.bearer)
    }
    if (credentials.apiKey !== undefined) {
      if (apiKeys.length === 0) return fail("API keys are not accepted here; use a bearer token")
      return verifyApiKey(credentials.apiKey)
    }
    return fail(
      `credentials are required: ${[
        ...(secret !== undefined || config.jwksUrl !== undefined ? ["Authorization: Bearer <JWT>"] : []),
        ...(apiKeys.length > 0 ? ["X-API-Key: <key>"] : [])
      ].join(" or ")}`,
      false
    )
  }

  return { enabled, methods, authenticate } satisfies Authenticator
})
