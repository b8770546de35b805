/**
 * The `api:` settings of `medallion serve` with their defaults applied. Pure.
 */
import { Duration, Redacted } from "effect"
import type { SettingsFile } from "../settings/Settings.ts"
import type { AuthConfig } from "./Auth.ts"

export interface ApiConfig {
  readonly host: string
  readonly port: number
  /** Rows per page when the request does not say. */
  readonly defaultLimit: number
  /** Most rows per page; a larger `limit` is capped to it. */
  readonly maxLimit: number
  readonly maxBodyBytes: number
  /** Longest request target (path and query) accepted. */
  readonly maxUrlLength: number
  readonly cors: { readonly origins: ReadonlyArray<string>; readonly credentials: boolean } | undefined
  /** How long running runs may take to finish on shutdown before they are cancelled. */
  readonly shutdownGrace: Duration.Duration
  readonly accessLog: boolean
  /** /openapi.json and /docs without credentials. */
  readonly publicDocs: boolean
  readonly auth: AuthConfig
}

const graceUnits: Record<string, number> = {
  ms: 1,
  millis: 1,
  s: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000
}

const grace = (text: string | undefined): Duration.Duration => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(text ?? "")
  const unit = m === null ? undefined : graceUnits[m[2]!]
  return m === null || unit === undefined ? Duration.seconds(30) : Duration.millis(Number(m[1]) * unit)
}

export const apiConfig = (file: SettingsFile["api"], overrides: { readonly host?: string | undefined; readonly port?: number | undefined } = {}): ApiConfig => {
  const maxLimit = file?.max_limit ?? 1000
  const auth = file?.auth
  return {
    host: overrides.host ?? file?.host ?? "127.0.0.1",
    port: overrides.port ?? file?.port ?? 8080,
    defaultLimit: Math.min(100, maxLimit),
    maxLimit,
    maxBodyBytes: file?.max_body_bytes ?? 65_536,
    maxUrlLength: 8192,
    cors: file?.cors === undefined || file.cors.origins.length === 0 ? undefined : { origins: file.cors.origins, credentials: file.cors.credentials ?? false },
    shutdownGrace: grace(file?.shutdown_grace),
    accessLog: file?.access_log ?? false,
    publicDocs: file?.public_docs ?? true,
    auth: {
      jwtSecret: auth?.jwt_secret === undefined || Redacted.value(auth.jwt_secret) === "" ? undefined : auth.jwt_secret,
      jwksUrl: auth?.jwks_url === undefined || auth.jwks_url === "" ? undefined : auth.jwks_url,
      issuer: auth?.issuer === "" ? undefined : auth?.issuer,
      audience: auth?.audience === "" ? undefined : auth?.audience,
      apiKeys: (auth?.api_keys ?? []).filter((k) => Redacted.value(k.key) !== "")
    }
  }
}
