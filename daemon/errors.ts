// The error catalogue: every error spoor reports to a client or an operator, with a stable code.

export interface ErrorDef {
  /** Stable code, never reused; clients and dashboards match on it. */
  readonly code: string
  /** HTTP status, for errors answered to a client; 0 for operator-facing errors. */
  readonly status: number
  readonly message: string
}

function def (code: string, status: number, message: string): ErrorDef {
  return { code, status, message }
}

export const errors = {
  // Request errors found by the native encoder: its EncodeError results, mapped in native.ts.
  QUERY_TOO_LONG: def('SPOOR_E_QUERY_TOO_LONG', 414, 'the query string is longer than limits.max_query_bytes'),
  TOO_MANY_FIELDS: def('SPOOR_E_TOO_MANY_FIELDS', 400, 'more parameters or keys than limits.max_fields'),
  BAD_ESCAPE: def('SPOOR_E_BAD_ESCAPE', 400, 'a % escape is not followed by two hex digits'),
  BAD_UTF8: def('SPOOR_E_BAD_UTF8', 400, 'a decoded value is not valid UTF-8'),
  VALUE_TOO_LONG: def('SPOOR_E_VALUE_TOO_LONG', 400, 'a value is longer than limits.max_value_bytes (limits.max_data_bytes for d, 64 bytes for eid)'),
  BAD_JSON: def('SPOOR_E_BAD_JSON', 400, 'the body is not a JSON array of event objects with the documented field types'),
  JSON_TOO_DEEP: def('SPOOR_E_JSON_TOO_DEEP', 400, 'the body nests deeper than limits.max_json_depth'),
  TOO_MANY_EVENTS: def('SPOOR_E_TOO_MANY_EVENTS', 413, 'the batch holds more events than limits.max_events_per_post'),
  BAD_FIELD: def('SPOOR_E_BAD_FIELD', 400, 'a field has an invalid value (ct must be a non-negative integer of at most 16 digits; uid and eid must not be empty)'),

  // Request errors found by the HTTP layer.
  HEADER_TOO_LARGE: def('SPOOR_E_HEADER_TOO_LARGE', 431, 'the Cookie, User-Agent or Referer header is longer than limits.max_header_bytes'),
  BODY_TOO_LARGE: def('SPOOR_E_BODY_TOO_LARGE', 413, 'the body is larger than limits.max_body_bytes'),
  LENGTH_REQUIRED: def('SPOOR_E_LENGTH_REQUIRED', 411, 'a POST needs a Content-Length header'),
  BODY_LENGTH_MISMATCH: def('SPOOR_E_BODY_LENGTH_MISMATCH', 400, 'the body is longer than its Content-Length'),
  UNSUPPORTED_MEDIA_TYPE: def('SPOOR_E_UNSUPPORTED_MEDIA_TYPE', 415, 'a POST takes application/json or text/plain'),
  NOT_FOUND: def('SPOOR_E_NOT_FOUND', 404, 'no such endpoint'),
  BUFFER_FULL: def('SPOOR_E_BUFFER_FULL', 503, 'the buffer is over its high-water mark; retry after the Retry-After seconds'),
  SHUTTING_DOWN: def('SPOOR_E_SHUTTING_DOWN', 503, 'the collector is shutting down'),
  BUFFER_UNWRITABLE: def('SPOOR_E_BUFFER_UNWRITABLE', 503, 'the buffer cannot write (its disk is full or failing); retry after the Retry-After seconds'),
  BUFFER_WRITE_FAILED: def('SPOOR_E_BUFFER_WRITE_FAILED', 500, 'the buffer could not commit the events; retry'),

  // Request errors found by the Snowplow translation (docs/snowplow.md).
  BAD_SNOWPLOW: def('SPOOR_E_BAD_SNOWPLOW', 400, 'not a Snowplow payload_data body, or a context or self-describing event that is not valid base64, JSON, or a self-describing JSON'),

  // Errors of the admin listener (docs/operations.md).
  ADMIN_FORBIDDEN: def('SPOOR_E_ADMIN_FORBIDDEN', 403, 'the admin listener answers only the addresses in admin.allow'),

  // Errors of the dashboard (docs/dashboard.md).
  DASHBOARD_BAD_REQUEST: def('SPOOR_E_DASHBOARD_BAD_REQUEST', 400, 'a dashboard page was asked for with a parameter it cannot use'),
  DASHBOARD_SIGN_IN: def('SPOOR_E_DASHBOARD_SIGN_IN', 401, 'sign in to the dashboard first'),
  DASHBOARD_LOGIN_FAILED: def('SPOOR_E_DASHBOARD_LOGIN_FAILED', 401, 'wrong user name or password'),
  DASHBOARD_CROSS_SITE: def('SPOOR_E_DASHBOARD_CROSS_SITE', 403, 'a form posted to the dashboard from another site'),
  DASHBOARD_RUNS_OFF: def('SPOOR_E_DASHBOARD_RUNS_OFF', 403, 'this dashboard does not compute reports (dashboard.allow_runs is off); run the command it shows'),
  DASHBOARD_RUN_BUSY: def('SPOOR_E_DASHBOARD_RUN_BUSY', 409, 'the dashboard is computing another report; one runs at a time'),

  // Operator-facing errors.
  USAGE: def('SPOOR_E_USAGE', 0, 'the command line is invalid'),
  CONFIG_INVALID: def('SPOOR_E_CONFIG_INVALID', 0, 'the configuration is invalid'),
  HBASE_UNAVAILABLE: def('SPOOR_E_HBASE_UNAVAILABLE', 0, 'HBase did not answer'),
  ADMIN_UNAVAILABLE: def('SPOOR_E_ADMIN_UNAVAILABLE', 0, 'the collector\'s admin listener did not answer'),
  FLUSH_RETRY: def('SPOOR_E_FLUSH_RETRY', 0, 'a flush failed and will be retried'),
  DEAD_LETTER: def('SPOOR_E_DEAD_LETTER', 0, 'HBase rejected a batch for good; it was moved to the dead-letter store'),
  TRACKER_MISSING: def('SPOOR_E_TRACKER_MISSING', 0, 'the built browser tracker is missing or damaged'),
  ERASE_FAILED: def('SPOOR_E_ERASE_FAILED', 0, 'the erasure did not complete'),
  DASHBOARD_ASSETS_MISSING: def('SPOOR_E_DASHBOARD_ASSETS_MISSING', 0, 'the dashboard\'s built browser code is missing'),

  // Errors of batch reports (docs/reports.md).
  REPORT_UNKNOWN: def('SPOOR_E_REPORT_UNKNOWN', 0, 'there is no report of that name'),
  REPORT_WINDOW: def('SPOOR_E_REPORT_WINDOW', 0, 'the report window is not a time range [from, to) with from before to'),
  REPORT_NOT_FOUND: def('SPOOR_E_REPORT_NOT_FOUND', 0, 'no stored report for that name, window and parameters'),
  REPORTS_TABLE_MISSING: def('SPOOR_E_REPORTS_TABLE_MISSING', 0, 'the reports table does not exist'),
  JOBS_MISSING: def('SPOOR_E_JOBS_MISSING', 0, 'the Spark jobs are not built'),
  REPORT_FAILED: def('SPOOR_E_REPORT_FAILED', 0, 'the report job failed and stored nothing'),
  TRAIN_FAILED: def('SPOOR_E_TRAIN_FAILED', 0, 'the training job failed and wrote no model generation'),
  MODEL_INVALID: def('SPOOR_E_MODEL_INVALID', 0, 'a model generation cannot be read'),
  EVAL_FAILED: def('SPOOR_E_EVAL_FAILED', 0, 'the comparison with the implicit library failed'),

  // Errors of recommendation signals (docs/recommendations.md).
  AMQP_UNAVAILABLE: def('SPOOR_E_AMQP_UNAVAILABLE', 0, 'RabbitMQ did not answer'),
  SIGNALS_TABLE_MISSING: def('SPOOR_E_SIGNALS_TABLE_MISSING', 0, 'the signals table does not exist'),
  SIGNAL_REJECTED: def('SPOOR_E_SIGNAL_REJECTED', 0, 'a signal is invalid; it was moved to the dead-letter queue with its reason'),
  SIGNAL_STORE_RETRY: def('SPOOR_E_SIGNAL_STORE_RETRY', 0, 'storing a batch of signals in HBase failed; the batch stays unacknowledged in RabbitMQ and is written again'),
  PUBLISH_FAILED: def('SPOOR_E_PUBLISH_FAILED', 0, 'RabbitMQ did not confirm every signal'),

  // Answers of spoor recommend serve (docs/recommendations.md#serving).
  RECOMMEND_NOT_READY: def('SPOOR_E_RECOMMEND_NOT_READY', 503, 'no model generation is served yet'),
  RECOMMEND_BAD_ID: def('SPOOR_E_RECOMMEND_BAD_ID', 400, 'a user, item, channel or country is empty, longer than recommend.max_id_bytes, not valid percent-encoded UTF-8, or holds a control character'),
  RECOMMEND_BAD_N: def('SPOOR_E_RECOMMEND_BAD_N', 400, 'n is not an integer from 1 to recommend.max_results'),
  RECOMMEND_UNKNOWN_USER: def('SPOOR_E_RECOMMEND_UNKNOWN_USER', 404, 'the served model has no vector for the user'),
  RECOMMEND_UNKNOWN_ITEM: def('SPOOR_E_RECOMMEND_UNKNOWN_ITEM', 404, 'the served model does not know the item'),
  RECOMMEND_FAILED: def('SPOOR_E_RECOMMEND_FAILED', 500, 'the recommendation could not be computed')
} as const

export type ErrorName = keyof typeof errors

/** An operator-facing error with a catalogue code, thrown by start-up and CLI code. */
export class SpoorError extends Error {
  readonly code: string

  constructor (name: ErrorName, detail: string) {
    super(`${errors[name].message}: ${detail}`)
    this.name = 'SpoorError'
    this.code = errors[name].code
  }
}
