/**
 * What runs around the handlers of `medallion serve`: authentication and scopes (Authentication),
 * request decoding failures as InvalidRequest problems (RequestValidation), and at the edge of the
 * router the caps on request size, problem JSON for what the router answers itself (unknown route,
 * body too large, wrong content type), WWW-Authenticate on 401, credentials for private docs, and
 * secrets kept out of every error response. Also the names of the server's spans: `{method} {route}`.
 */
import { ByteSize, Context, Effect, Layer, Option, SchemaIssue } from "effect"
import { HttpBody, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApi, HttpApiMiddleware } from "effect/http-api"
import * as Secrets from "../secrets/Secrets.ts"
import { Api, Authentication, Caller, RequestValidation, RequiredScope } from "./Api.ts"
import type * as Auth from "./Auth.ts"
import type { ApiConfig } from "./config.ts"
import { Forbidden, Internal, InvalidRequest, problemType, Unauthorized } from "./problems.ts"

/** The authenticator for the configured credentials (a service, so the middleware and the docs share it). */
export class Authenticator extends Context.Service<Authenticator, Auth.Authenticator>()("medallion/api/Authenticator") {}

const issuesOf = (cause: SchemaIssue.Issue, slot: string) =>
  SchemaIssue.makeFormatterStandardSchemaV1()(cause).issues.map((issue) => {
    const path = (issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p))
    return { parameter: slot === "query" || slot === "params" ? (path[0] ?? slot) : slot === "payload" ? ["body", ...path].join(".") : slot, message: issue.message }
  })

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const authenticator = yield* Authenticator
    const authorize = <E>(httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, Caller>, endpoint: { readonly annotations: Context.Context<never> }) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const authorization = request.headers["authorization"]
        const bearer = authorization === undefined ? undefined : (/^bearer(?:\s+(.*))?$/i.exec(authorization)?.[1]?.trim() ?? (/^bearer\s*$/i.test(authorization) ? "" : undefined))
        const principal = yield* authenticator.authenticate({ bearer, apiKey: request.headers["x-api-key"] }).pipe(Effect.mapError((e) => new Unauthorized({ detail: e.detail })))
        const required = Context.get(endpoint.annotations, RequiredScope)
        if (!principal.scopes.has(required)) {
          return yield* new Forbidden({
            required_scope: required,
            detail: `this request needs the scope ${required}; the credentials have ${principal.scopes.size === 0 ? "none" : [...principal.scopes].join(" ")}`
          })
        }
        return yield* Effect.provideService(httpEffect, Caller, principal)
      })
    return Authentication.of({
      bearer: (httpEffect, { endpoint }) => authorize(httpEffect, endpoint),
      apiKey: (httpEffect, { endpoint }) => authorize(httpEffect, endpoint)
    })
  })
)

export const RequestValidationLive = HttpApiMiddleware.layerSchemaErrorTransform(RequestValidation, (error) => {
  if (error.kind === "Body" || error.kind === "ResponseHeaders") {
    return Effect.logError("api: a response did not match its schema", error.cause).pipe(
      Effect.andThen(Effect.fail(new Internal({ detail: "the response did not match its schema; see the server log" })))
    )
  }
  const slot = error.kind.toLowerCase()
  return Effect.fail(new InvalidRequest({ detail: `invalid ${slot === "payload" ? "body" : slot}`, errors: issuesOf(error.cause.issue, slot) }))
})

const problemResponse = (status: number, slug: string, title: string, detail: string) =>
  HttpServerResponse.jsonUnsafe({ type: problemType(slug), status, title, detail }, { status, contentType: "application/problem+json" })

// ---------------------------------------------------------------------------------------------
// Route templates, for the names of server spans

interface Route {
  readonly method: string
  readonly template: string
  readonly segments: ReadonlyArray<string | undefined>
}

/** Every route of the Api and the docs, with its template as OpenAPI writes it: /pipelines/{name}/runs. */
const routes: ReadonlyArray<Route> = (() => {
  const found: Array<{ readonly method: string; readonly path: string }> = [
    { method: "GET", path: "/openapi.json" },
    { method: "GET", path: "/docs" }
  ]
  HttpApi.reflect(Api, { onGroup: () => {}, onEndpoint: ({ endpoint }) => found.push({ method: endpoint.method, path: endpoint.path }) })
  return found.map(({ method, path }) => {
    const parts = path.split("/").slice(1)
    return {
      method,
      template: `/${parts.map((p) => (p.startsWith(":") ? `{${p.slice(1)}}` : p)).join("/")}`,
      // undefined: a parameter, which matches any one segment
      segments: parts.map((p) => (p.startsWith(":") ? undefined : p))
    }
  })
})()

/** The template of the route a request matches (static segments win over parameters), if any. */
export const routeTemplate = (method: string, url: string): string | undefined => {
  const parts = url.split(/[?#]/)[0]!.split("/").slice(1)
  const wanted = method === "HEAD" ? "GET" : method
  let best: Route | undefined
  let bestStatic = -1
  for (const route of routes) {
    if (route.method !== wanted || route.segments.length !== parts.length) continue
    let statics = 0
    let matches = true
    route.segments.forEach((segment, i) => {
      if (segment === undefined) matches &&= parts[i] !== ""
      else if (segment === parts[i]) statics++
      else matches = false
    })
    if (matches && statics > bestStatic) {
      best = route
      bestStatic = statics
    }
  }
  return best?.template
}

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"])

/**
 * The name of a request's server span, after the OpenTelemetry HTTP conventions: `{method} {route}`
 * (`POST /pipelines/{name}/runs`), the method alone for a path no route matches, and `HTTP` for a
 * method that is not a standard one.
 */
export const serverSpanName = (request: HttpServerRequest.HttpServerRequest): string => {
  if (!knownMethods.has(request.method)) return "HTTP"
  const route = routeTemplate(request.method, request.url)
  return route === undefined ? request.method : `${request.method} ${route}`
}

const decoder = new TextDecoder()

/** An error response (a problem) with any secret in its body replaced by [redacted] (Secrets.ts). */
const scrubbed = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400 || response.body._tag !== "Uint8Array" || !Secrets.any()) return response
  const text = decoder.decode(response.body.body)
  const clean = Secrets.scrub(text)
  return clean === text ? response : HttpServerResponse.setBody(response, HttpBody.text(clean, response.body.contentType))
}

/**
 * Around every request: caps on the request target and body, problem JSON for what the router
 * answers itself (unknown route, body too large, wrong content type), WWW-Authenticate on 401,
 * credentials for the docs when they are not public, and no secret in an error response.
 */
export const edgeMiddleware = (config: ApiConfig) =>
  HttpRouter.middleware(
    Effect.gen(function* () {
      const authenticator = yield* Authenticator
      return (effect: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          if (request.url.length > config.maxUrlLength) {
            return problemResponse(414, "uri-too-long", "The request target is too long", `at most ${config.maxUrlLength} characters of path and query`)
          }
          const length = Number(request.headers["content-length"] ?? "0")
          if (!Number.isFinite(length) || length > config.maxBodyBytes) {
            return problemResponse(413, "payload-too-large", "The request body is too large", `at most ${config.maxBodyBytes} bytes`)
          }
          const path = request.url.split("?")[0]!
          if (!config.publicDocs && authenticator.enabled && (path === "/openapi.json" || path === "/docs")) {
            const authorization = request.headers["authorization"]
            const bearer = authorization === undefined ? undefined : /^bearer\s+(.*)$/i.exec(authorization)?.[1]
            const denied = yield* authenticator.authenticate({ bearer, apiKey: request.headers["x-api-key"] }).pipe(Effect.flip, Effect.option)
            if (Option.isSome(denied)) return problemResponse(401, "unauthorized", "Authentication required", denied.value.detail)
          }
          const response = yield* effect.pipe(
            Effect.catchIf(
              (e): e is HttpServerError.HttpServerError => HttpServerError.isHttpServerError(e) && e.reason._tag === "RouteNotFound",
              () => Effect.succeed(problemResponse(404, "not-found", "No such route", `no route for ${request.method} ${path}; see /openapi.json`))
            )
          )
          // The router records the route as it spells it (/pipelines/:name/runs); the span's name spells it as OpenAPI does.
          const route = routeTemplate(request.method, request.url)
          const span = yield* Effect.option(Effect.currentSpan)
          if (route !== undefined && Option.isSome(span) && span.value.kind === "server") span.value.attribute("http.route", route)
          if (response.status === 415) return problemResponse(415, "unsupported-media-type", "Unsupported content type", "send the body as application/json")
          if (response.status === 413) return problemResponse(413, "payload-too-large", "The request body is too large", `at most ${config.maxBodyBytes} bytes`)
          if (response.status === 401 && response.headers["www-authenticate"] === undefined) {
            const challenge = request.headers["authorization"] === undefined ? `Bearer realm="medallion"` : `Bearer realm="medallion", error="invalid_token"`
            return HttpServerResponse.setHeader(response, "www-authenticate", challenge)
          }
          return response
        }).pipe(Effect.map(scrubbed), Effect.provideService(HttpServerRequest.MaxBodySize, ByteSize.bytes(config.maxBodyBytes)))
    }),
    { global: true }
  )
