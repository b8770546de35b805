/**
 * The API's errors: RFC 9457 problem details (application/problem+json), one stable `type` URI per
 * kind of error, so clients branch on `type` and people read `title` and `detail`. Each is a tagged
 * error the handlers fail with; HttpApi renders, documents (OpenAPI) and decodes them.
 */
import { Schema } from "effect"
import { HttpApiError } from "effect/http-api"

/** The `type` URI of each problem; documented in the README. */
export const problemType = (slug: string) => `urn:medallion:problem:${slug}` as const

export const ProblemIssue = Schema.Struct({
  /** The request part at fault: a query parameter name, `path`, `body` or `header`. */
  parameter: Schema.String,
  message: Schema.String
})
export type ProblemIssue = typeof ProblemIssue.Type

export class InvalidRequest extends HttpApiError.Problem<InvalidRequest>()(
  "InvalidRequest",
  {
    type: problemType("invalid-request"),
    status: 400,
    title: "The request is not valid"
  },
  {
    errors: Schema.Array(ProblemIssue)
  }
) {}

export class Unauthorized extends HttpApiError.Problem<Unauthorized>()("Unauthorized", {
  type: problemType("unauthorized"),
  status: 401,
  title: "Authentication required"
}) {}

export class Forbidden extends HttpApiError.Problem<Forbidden>()(
  "Forbidden",
  {
    type: problemType("forbidden"),
    status: 403,
    title: "The credentials lack the scope this request needs"
  },
  {
    required_scope: Schema.Literals(["read", "run"])
  }
) {}

export class TableNotFound extends HttpApiError.Problem<TableNotFound>()(
  "TableNotFound",
  {
    type: problemType("table-not-found"),
    status: 404,
    title: "No such gold table"
  },
  {
    table: Schema.String
  }
) {}

export class PipelineNotFound extends HttpApiError.Problem<PipelineNotFound>()(
  "PipelineNotFound",
  {
    type: problemType("pipeline-not-found"),
    status: 404,
    title: "No such pipeline"
  },
  {
    pipeline: Schema.String
  }
) {}

export class RunNotFound extends HttpApiError.Problem<RunNotFound>()(
  "RunNotFound",
  {
    type: problemType("run-not-found"),
    status: 404,
    title: "No such run"
  },
  {
    batch_id: Schema.String
  }
) {}

export class RunInProgress extends HttpApiError.Problem<RunInProgress>()(
  "RunInProgress",
  {
    type: problemType("run-in-progress"),
    status: 409,
    title: "The pipeline is already queued or running"
  },
  {
    pipeline: Schema.String,
    batch_id: Schema.String,
    state: Schema.Literals(["queued", "running"])
  }
) {}

export class CursorExpired extends HttpApiError.Problem<CursorExpired>()(
  "CursorExpired",
  {
    type: problemType("cursor-expired"),
    status: 409,
    title: "The table was refreshed since this cursor was issued"
  },
  {
    table: Schema.String
  }
) {}

export const HealthCheck = Schema.Struct({
  status: Schema.Literals(["ok", "failed"]),
  detail: Schema.optionalKey(Schema.String),
  duration_ms: Schema.Number
})
export type HealthCheck = typeof HealthCheck.Type

export const HealthChecks = Schema.Struct({ executor: HealthCheck, metadata: HealthCheck })
export type HealthChecks = typeof HealthChecks.Type

export class Unhealthy extends HttpApiError.Problem<Unhealthy>()(
  "Unhealthy",
  {
    type: problemType("unhealthy"),
    status: 503,
    title: "A part of the service is not working"
  },
  {
    checks: HealthChecks
  }
) {}

export class Unavailable extends HttpApiError.Problem<Unavailable>()("Unavailable", {
  type: problemType("unavailable"),
  status: 503,
  title: "The service cannot answer now; try again"
}) {}

export class Internal extends HttpApiError.Problem<Internal>()("Internal", {
  type: problemType("internal"),
  status: 500,
  title: "Internal error"
}) {}
