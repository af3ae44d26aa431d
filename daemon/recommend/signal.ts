// A recommendation signal as an application sends it, {"user","item","kind","ts","id"}, and the checks that decide
// whether it is stored or moved to the dead-letter queue, with which reason (docs/recommendations.md).

import type { Config } from '../config'
import type { Signal } from '../hbase/signals'

export type { Signal }

/**
 * Why a message was moved to the dead-letter queue: the x-spoor-error header. Each has a sentence in
 * docs/recommendations.md; the x-spoor-reason header says what exactly was wrong.
 */
export const REJECTIONS = {
  'too-large': 'the message is longer than recommend.max_message_bytes; it is not parsed',
  'bad-json': 'the message is not UTF-8 JSON text',
  'not-an-object': 'the JSON is not an object',
  'missing-field': 'user, item, kind, ts or id is missing, or null',
  'bad-field': 'user, item, kind or id is not a string, is empty, or holds a control character',
  'too-long': 'user, item or id is longer than recommend.max_id_bytes in UTF-8',
  'unknown-kind': 'kind is none of the kinds of [recommend.weights]',
  'bad-ts': 'ts is neither an integer of milliseconds since the epoch nor an RFC 3339 date-time, or lies before 2000 or more than a day ahead of the consumer\'s clock'
} as const

export type Rejection = keyof typeof REJECTIONS

export type Checked =
  | { ok: true, signal: Signal }
  | { ok: false, error: Rejection, reason: string }

export interface SignalLimits {
  /** Longest message, in bytes (`recommend.max_message_bytes`). */
  maxMessageBytes: number
  /** Longest user, item or id, in UTF-8 bytes (`recommend.max_id_bytes`). */
  maxIdBytes: number
  /** The kinds accepted, with their weights (`recommend.weights`). */
  weights: Readonly<Record<string, number>>
}

export function signalLimits (config: Config): SignalLimits {
  const r = config.recommend
  return { maxMessageBytes: r.maxMessageBytes, maxIdBytes: r.maxIdBytes, weights: r.weights }
}

/** 2000-01-01T00:00:00Z: no signal is older. */
export const MIN_TS = 946684800000

/** How far ahead of the consumer's clock a signal's ts may be: clients' clocks are not all right. */
export const MAX_FUTURE_MS = 24 * 3600 * 1000

const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d{1,9})?([Zz]|[+-](\d\d):(\d\d))$/

/** Whether the fields of an RFC 3339 match name a real date and time (Date.parse takes 2026-02-31 for March 3). */
function realDate (m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number)
  const offsetHours = m[9] === undefined ? 0 : Number(m[9])
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10])
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate() &&
    hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

const FIELDS = ['user', 'item', 'kind', 'ts', 'id'] as const

function quote (text: string, max = 64): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text)
}

/** A time as ISO 8601, or as its number when Date cannot show it (beyond ±100 million days). */
function iso (ms: number): string {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString()
}

function fail (error: Rejection, reason: string): Checked {
  return { ok: false, error, reason }
}

/** The signal's time in ms, or the reason it is not one. */
function checkTs (value: unknown, now: number): number | string {
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return `ts ${String(value)} is not an integer of milliseconds since the epoch`
    ms = value
  } else if (typeof value === 'string') {
    const m = RFC3339.exec(value)
    if (m === null) return `ts ${quote(value)} is not an RFC 3339 date-time such as 2026-11-28T09:30:00Z`
    ms = Date.parse(value.toUpperCase().replace(' ', 'T'))
    if (!realDate(m) || Number.isNaN(ms)) return `ts ${quote(value)} is not a valid date-time`
  } else {
    return `ts must be a number or a string, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`
  }
  if (ms < MIN_TS) return `ts ${iso(ms)} is before 2000-01-01`
  if (ms > now + MAX_FUTURE_MS) return `ts ${iso(ms)} is more than a day ahead of the consumer's clock (${iso(now)})`
  return ms
}

/**
 * Checks one message body. Fields other than the five are ignored. `now` is the consumer's clock, against which
 * a ts in the future is judged.
 */
export function checkSignal (body: Buffer, limits: SignalLimits, now = Date.now()): Checked {
  if (body.length > limits.maxMessageBytes) return fail('too-large', `the message has ${body.length} bytes, more than recommend.max_message_bytes (${limits.maxMessageBytes})`)
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return fail('bad-json', 'the message is not valid UTF-8')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return fail('bad-json', `the message is not JSON: ${(err as Error).message}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('not-an-object', `the message is JSON ${parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed}, not an object`)
  const o = parsed as Record<string, unknown>
  const missing = FIELDS.filter(f => o[f] === undefined || o[f] === null)
  if (missing.length > 0) return fail('missing-field', `the signal has no ${missing.join(', ')}`)
  for (const field of ['user', 'item', 'kind', 'id'] as const) {
    const value = o[field]
    if (typeof value !== 'string') return fail('bad-field', `${field} must be a string, not ${Array.isArray(value) ? 'an array' : typeof value}`)
    if (value === '') return fail('bad-field', `${field} is empty`)
    if (CONTROL.test(value)) return fail('bad-field', `${field} ${quote(value)} holds a control character`)
  }
  for (const field of ['user', 'item', 'id'] as const) {
    const bytes = Buffer.byteLength(o[field] as string, 'utf8')
    if (bytes > limits.maxIdBytes) return fail('too-long', `${field} has ${bytes} bytes, more than recommend.max_id_bytes (${limits.maxIdBytes})`)
  }
  const kind = o.kind as string
  if (!Object.hasOwn(limits.weights, kind)) return fail('unknown-kind', `kind ${quote(kind)} is not one of ${Object.keys(limits.weights).join(', ')}`)
  const ts = checkTs(o.ts, now)
  if (typeof ts === 'string') return fail('bad-ts', ts)
  return { ok: true, signal: { user: o.user as string, item: o.item as string, kind, ts, id: o.id as string } }
}
