/**
 * Every secret value the process knows, and the one scrubber that keeps them out of what it
 * writes. Secrets are registered where they enter the process: the settings (Databricks token and
 * client secret, the API's JWT secret and keys: every value the settings hold as Redacted), the
 * OAuth tokens the Databricks executor obtains, the read endpoint's token, the OTLP exporter
 * headers. `scrub` replaces each of them with `[redacted]`; it stands between the process and
 * every way out: the CLI's messages and `--json` output (`scrubbingConsole`), log lines on the
 * console and over OTLP (`scrubbingLogger`), span attributes, events and status messages
 * (`scrubSpan`), and the API's problem responses.
 *
 * Values shorter than `minimumLength` are not scrubbed: replacing every occurrence of a few
 * characters would mangle ordinary output more than it protects.
 *
 * A leaf: it imports nothing of the project, so every stage that holds or writes a secret may use it.
 */
import { Cause, Exit, Logger, Redacted, type Tracer } from "effect"

const replacement = "[redacted]"
const minimumLength = 8

const known = new Set<string>()
let pattern: RegExp | undefined

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Registers secret values (plain or Redacted); undefined, empty and short values are ignored. */
export const register = (...values: ReadonlyArray<string | Redacted.Redacted<string> | undefined>): void => {
  let added = false
  for (const value of values) {
    const text = value === undefined ? undefined : Redacted.isRedacted(value) ? Redacted.value(value) : value
    if (text === undefined || text.length < minimumLength) continue
    // As written, and as it appears inside a JSON string (quotes and backslashes escaped).
    for (const form of [text, JSON.stringify(text).slice(1, -1)]) {
      if (known.has(form)) continue
      known.add(form)
      added = true
    }
  }
  // Longest first, so that a secret containing another is replaced whole.
  if (added)
    pattern = new RegExp(
      [...known]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join("|"),
      "g"
    )
}

/** Registers every Redacted value found in a decoded value (settings), however deep. */
export const registerAll = (value: unknown): void => {
  if (Redacted.isRedacted(value)) {
    const inner = Redacted.value(value)
    if (typeof inner === "string") register(inner)
  } else if (Array.isArray(value)) value.forEach(registerAll)
  else if (value !== null && typeof value === "object") Object.values(value).forEach(registerAll)
}

/** Whether any secret is registered (tests, and a fast path for callers). */
export const any = (): boolean => pattern !== undefined

/** The text with every registered secret replaced by `[redacted]`. */
export const scrub = (text: string): string => {
  if (pattern === undefined) return text
  pattern.lastIndex = 0
  return pattern.test(text) ? text.replace(pattern, replacement) : text
}

/** A value with every string in it scrubbed (arrays and plain objects are copied; other values stay). */
export const scrubValue = (value: unknown): unknown => {
  if (pattern === undefined) return value
  if (typeof value === "string") return scrub(value)
  if (Array.isArray(value)) return value.map(scrubValue)
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubValue(v)]))
  }
  return value
}

/** An error as printed (name, message, stack) with secrets replaced; the same error when it holds none. */
const scrubError = (error: unknown): unknown => {
  if (pattern === undefined) return error
  if (typeof error === "string") return scrub(error)
  if (!(error instanceof Error)) {
    const text = String(error)
    return scrub(text) === text ? error : new Error(scrub(text))
  }
  const message = scrub(error.message)
  const stack = error.stack === undefined ? undefined : scrub(error.stack)
  if (message === error.message && stack === error.stack && scrub(String(error)) === String(error)) return error
  const scrubbed = new Error(message)
  scrubbed.name = error.name
  scrubbed.stack = stack ?? `${error.name}: ${message}`
  return scrubbed
}

/** A cause whose failures and defects print without secrets (interruptions stay as they are); the same cause when it holds none. */
export const scrubCause = <E>(cause: Cause.Cause<E>): Cause.Cause<unknown> => {
  if (pattern === undefined || cause.reasons.length === 0) return cause
  let changed = false
  const reasons = cause.reasons.map((reason): Cause.Reason<unknown> => {
    if (reason._tag === "Interrupt") return reason
    const before = reason._tag === "Fail" ? reason.error : reason.defect
    const after = scrubError(before)
    if (after === before) return reason
    changed = true
    return reason._tag === "Fail" ? Cause.makeFailReason(after) : Cause.makeDieReason(after)
  })
  return changed ? Cause.fromReasons(reasons) : cause
}

/** A logger that passes `inner` its message and cause with secrets replaced. */
export const scrubbingLogger = <Message, Output>(inner: Logger.Logger<Message, Output>): Logger.Logger<Message, Output> =>
  Logger.make((options) =>
    inner.log(pattern === undefined ? options : { ...options, message: scrubValue(options.message) as Message, cause: scrubCause(options.cause) as Cause.Cause<unknown> })
  )

/**
 * Makes a span scrub what it is given: attribute values, event attributes, and the failure it
 * ends with (which becomes its status message and exception events). The span itself is kept
 * (a tracer's own span type stays what it was), its methods are wrapped in place.
 */
export const scrubSpan = (span: Tracer.Span): Tracer.Span => {
  const attribute = span.attribute.bind(span)
  const event = span.event.bind(span)
  const end = span.end.bind(span)
  span.attribute = (key, value) => attribute(key, scrubValue(value))
  span.event = (name, startTime, attributes) => event(scrub(name), startTime, attributes === undefined ? undefined : (scrubValue(attributes) as Record<string, unknown>))
  span.end = (endTime, exit) => end(endTime, Exit.isFailure(exit) ? Exit.failCause(scrubCause(exit.cause)) : exit)
  return span
}

type ConsoleLike = Pick<Console, "log" | "error" | "warn" | "info" | "debug">

/** A console whose log, info, debug, warn and error scrub their text arguments; other methods are the console's. */
export const scrubbingConsole = <C extends ConsoleLike>(console: C): C => {
  const wrap =
    (write: (...args: ReadonlyArray<unknown>) => void) =>
    (...args: ReadonlyArray<unknown>) =>
      write(...args.map((a) => (typeof a === "string" ? scrub(a) : a instanceof Error ? scrubError(a) : a)))
  return Object.assign(Object.create(console) as C, {
    log: wrap(console.log.bind(console)),
    info: wrap(console.info.bind(console)),
    debug: wrap(console.debug.bind(console)),
    warn: wrap(console.warn.bind(console)),
    error: wrap(console.error.bind(console))
  })
}
