/** The secrets registry and its scrubber: text, values, errors, spans and the console. */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit, Redacted, type Tracer } from "effect"
import * as Secrets from "../../src/secrets/Secrets.ts"

const secret = "s3cret-value-for-scrub-tests"
Secrets.register(secret, Redacted.make("redacted-value-for-scrub-tests"), "short", undefined)
Secrets.register('a "quoted" secret\\value')
Secrets.registerAll({ nested: [{ key: Redacted.make("nested-secret-0123456789") }], plain: "not-a-secret-0123456789" })

describe("Secrets.scrub", () => {
  it("replaces every registered value, plain or Redacted, however deep it was registered", () => {
    assert.strictEqual(Secrets.scrub(`a ${secret} b ${secret}`), "a [redacted] b [redacted]")
    assert.strictEqual(Secrets.scrub("redacted-value-for-scrub-tests"), "[redacted]")
    assert.strictEqual(Secrets.scrub("key=nested-secret-0123456789"), "key=[redacted]")
    assert.strictEqual(Secrets.scrub("not-a-secret-0123456789"), "not-a-secret-0123456789", "plain strings of a decoded value are not secrets")
  })

  it("finds a secret inside JSON text, escaped as JSON writes it", () => {
    const json = JSON.stringify({ message: 'a "quoted" secret\\value' })
    assert.notInclude(Secrets.scrub(json), "quoted")
    assert.deepStrictEqual(JSON.parse(Secrets.scrub(json)), { message: "[redacted]" })
  })

  it("ignores values too short to scrub without mangling other output", () => {
    assert.strictEqual(Secrets.scrub("a short word"), "a short word")
  })

  it("scrubs strings inside values, and the messages and stacks of errors in causes", () => {
    assert.deepStrictEqual(Secrets.scrubValue({ a: [secret, 1], b: { c: `x${secret}` } }), { a: ["[redacted]", 1], b: { c: "x[redacted]" } })
    const cause = Secrets.scrubCause(Cause.fail(new Error(`rejected ${secret}`)))
    const [error] = Cause.prettyErrors(cause)
    assert.strictEqual(error!.message, "rejected [redacted]")
    assert.notInclude(error!.stack ?? "", secret)
  })
})

describe("Secrets.scrubSpan", () => {
  it("scrubs attributes, events and the failure a span ends with", () => {
    const seen: Array<unknown> = []
    const span = {
      attribute: (key: string, value: unknown) => void seen.push([key, value]),
      event: (name: string, _: bigint, attributes?: Record<string, unknown>) => void seen.push([name, attributes]),
      end: (_: bigint, exit: Exit.Exit<unknown, unknown>) => void seen.push(Exit.isFailure(exit) ? Cause.prettyErrors(exit.cause)[0]!.message : "ok")
    } as unknown as Tracer.Span
    Secrets.scrubSpan(span)
    span.attribute("db.query.text", `SELECT '${secret}'`)
    span.event(`log ${secret}`, 0n, { message: secret })
    span.end(0n, Exit.fail(new Error(`Bearer ${secret}`)))
    assert.deepStrictEqual(seen, [["db.query.text", "SELECT '[redacted]'"], ["log [redacted]", { message: "[redacted]" }], "Bearer [redacted]"])
  })
})

describe("Secrets.scrubbingConsole", () => {
  it("scrubs what log and error print, and leaves the rest of the console alone", () => {
    const printed: Array<unknown> = []
    const target = {
      log: (...a: Array<unknown>) => void printed.push(a),
      error: (...a: Array<unknown>) => void printed.push(a),
      warn: () => {},
      info: () => {},
      debug: () => {},
      table: () => "table"
    }
    const console = Secrets.scrubbingConsole(target)
    console.log(`{"token":"${secret}"}`, 3)
    console.error(new Error(`no: ${secret}`))
    assert.deepStrictEqual(printed[0], ['{"token":"[redacted]"}', 3])
    assert.strictEqual((printed[1] as Array<Error>)[0]!.message, "no: [redacted]")
    assert.strictEqual(console.table(), "table")
  })
})
