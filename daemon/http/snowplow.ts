// Translates Snowplow tracker protocol events (GET /i query, tp2 payload_data) into spoor's event JSON for the encoder.
//
// Only the translation lives here: the result is the body `POST /e` takes, fed to the same native call, so
// that every limit and error code of the encoder applies to Snowplow events unchanged (docs/snowplow.md).

import { errors, type ErrorDef } from '../errors'

/** One Snowplow event: the tracker protocol's parameters, every value a string. */
export type SnowplowParams = Record<string, string>

/** A refused Snowplow request, carrying the catalogue entry to answer with. */
export class SnowplowRejected extends Error {
  constructor (readonly def: ErrorDef, detail: string) {
    super(`${def.message}: ${detail}`)
    this.name = 'SnowplowRejected'
  }
}

function bad (detail: string): SnowplowRejected {
  return new SnowplowRejected(errors.BAD_SNOWPLOW, detail)
}

const PAYLOAD_DATA = /^iglu:com\.snowplowanalytics\.snowplow\/payload_data\/jsonschema\/1-0-\d+$/

// Both alphabets: trackers use url-safe base64 in GET queries and either one in POST bodies, often unpadded.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Decodes base64 of either alphabet, padded or not, refusing anything else, and the bytes as strict UTF-8. */
export function decodeBase64 (text: string, name: string): string {
  const body = text.replace(/=+$/, '')
  const padding = text.length - body.length
  if (!BASE64.test(text) || body.length % 4 === 1 || (padding > 0 && (body.length + padding) % 4 !== 0)) throw bad(`${name} is not base64`)
  try {
    return utf8.decode(Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64'))
  } catch {
    throw bad(`${name} is not UTF-8`)
  }
}

interface SelfDescribing { schema: string, data: unknown }

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A self-describing JSON: an object with a string `schema` and a `data`; anything else is refused. */
function selfDescribing (v: unknown, what: string): SelfDescribing {
  if (!isObject(v) || typeof v.schema !== 'string' || v.schema === '' || !('data' in v)) throw bad(`${what} is not a self-describing JSON with schema and data`)
  return { schema: v.schema, data: v.data }
}

/** The JSON of a plain parameter, or of an encoded one when the plain one is absent. */
function jsonParam (params: SnowplowParams, plain: string, encoded: string): unknown {
  let text = params[plain]
  let name = plain
  if (text === undefined || text === '') {
    text = params[encoded]
    name = encoded
    if (text === undefined || text === '') return undefined
    text = decodeBase64(text, encoded)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw bad(`${name} is not JSON`)
  }
}

/** The entities of `co`/`cx`: a contexts envelope whose data is an array of self-describing JSONs. */
function contexts (params: SnowplowParams): SelfDescribing[] | undefined {
  const json = jsonParam(params, 'co', 'cx')
  if (json === undefined) return undefined
  const envelope = selfDescribing(json, 'the contexts')
  if (!Array.isArray(envelope.data)) throw bad('the contexts\' data is not an array')
  return envelope.data.map((c, i) => selfDescribing(c, `context ${i}`))
}

/** The event inside `ue_pr`/`ue_px`: an unstruct_event envelope whose data is the self-describing event. */
function selfDescribingEvent (params: SnowplowParams): SelfDescribing | undefined {
  const json = jsonParam(params, 'ue_pr', 'ue_px')
  if (json === undefined) return undefined
  return selfDescribing(selfDescribing(json, 'the self-describing event').data, 'the self-describing event\'s data')
}

/** `iglu:com.acme/button_click/jsonschema/1-0-0` → `com.acme/button_click`. */
export function schemaName (schema: string): string {
  return schema.replace(/^iglu:/, '').split('/').slice(0, 2).join('/')
}

/** The Snowplow parameters kept in `d` under another name, or the same. */
const D_FIELDS: Array<[string, string]> = [
  ['p', 'platform'], ['page', 'page'], ['tv', 'tv'], ['tna', 'tna'], ['res', 'res'], ['vp', 'vp'],
  ['lang', 'lang'], ['cs', 'cs'], ['tz', 'tz'], ['vid', 'vid']
]
const SE_FIELDS: Array<[string, string]> = [['se_ca', 'category'], ['se_ac', 'action'], ['se_la', 'label'], ['se_pr', 'property'], ['se_va', 'value']]
const PP_FIELDS: Array<[string, string]> = [['pp_mix', 'min_x'], ['pp_max', 'max_x'], ['pp_miy', 'min_y'], ['pp_may', 'max_y']]

/** The named parameters that are present, under their `d` names; undefined when none is. */
function pick (params: SnowplowParams, fields: Array<[string, string]>): Record<string, string> | undefined {
  const out: Record<string, string> = {}
  for (const [from, to] of fields) if (present(params[from])) out[to] = params[from]
  return Object.keys(out).length > 0 ? out : undefined
}

function present (v: string | undefined): v is string {
  return v !== undefined && v !== ''
}

/** One Snowplow event as a spoor event object (the keys of POST /e); empty values count as absent. */
export function translate (params: SnowplowParams): Record<string, unknown> {
  for (const [k, v] of Object.entries(params)) if (typeof v !== 'string') throw bad(`the value of ${k} is not a string`)
  const e = params.e ?? ''
  const ue = selfDescribingEvent(params)
  const co = contexts(params)
  const event: Record<string, unknown> = {}
  const set = (key: string, value: string | undefined): void => { if (present(value)) event[key] = value }

  // The collector's cookie or a new uid, as for spoor's own events, when the tracker sends neither id.
  set('uid', present(params.nuid) ? params.nuid : params.duid)
  set('lid', params.uid)
  set('sid', params.sid)
  set('p', params.aid)
  set('url', params.url)
  set('ref', params.refr)
  set('ct', params.dtm)
  set('eid', params.eid)
  if (e === 'pv') set('a', 'page')
  else if (e === 'pp') set('a', 'ping')
  else if (e === 'se') {
    set('a', present(params.se_ac) ? params.se_ac : e)
    set('ch', params.se_ca)
    set('it', params.se_la)
  } else if (e === 'ue' && ue !== undefined) set('a', schemaName(ue.schema))
  else if (e === 'tr') set('a', 'transaction')
  else if (e === 'ti') set('a', 'transaction_item')
  else set('a', e)

  const d: Record<string, unknown> = {}
  if (present(e)) d.e = e
  for (const [from, to] of D_FIELDS) if (present(params[from])) d[to] = params[from]
  const se = pick(params, SE_FIELDS)
  if (se !== undefined) d.se = se
  if (ue !== undefined) d.ue = ue
  if (co !== undefined) d.contexts = co
  const pp = pick(params, PP_FIELDS)
  if (pp !== undefined) d.pp = pp
  if (Object.keys(d).length > 0) event.d = d
  return event
}

/** A `tp2` body as the JSON array of spoor events `Encoder.events` takes. */
export function translatePayload (body: Buffer): Buffer {
  let json: unknown
  try {
    json = JSON.parse(utf8.decode(body))
  } catch {
    throw new SnowplowRejected(errors.BAD_JSON, 'the body is not JSON')
  }
  if (!isObject(json) || typeof json.schema !== 'string' || !PAYLOAD_DATA.test(json.schema)) throw bad('the body is not a payload_data self-describing JSON')
  if (!Array.isArray(json.data)) throw bad('the payload\'s data is not an array')
  return Buffer.from(JSON.stringify(json.data.map((p, i) => {
    if (!isObject(p)) throw bad(`event ${i} is not an object`)
    return translate(p as SnowplowParams)
  })))
}

/** Decodes one query component strictly, as the pixel does: `+` is a space, `%` takes two hex digits, UTF-8. */
function decodeComponent (text: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) throw new SnowplowRejected(errors.BAD_ESCAPE, 'a % escape')
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    throw new SnowplowRejected(errors.BAD_UTF8, 'a query value')
  }
}

/** A `GET /i` query string (without `?`) as a one-event JSON array for `Encoder.events`. */
export function translateQuery (query: string): Buffer {
  // No prototype, so that a parameter named __proto__ is only a parameter.
  const params: SnowplowParams = Object.create(null)
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq))
    params[name] = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1))
  }
  return Buffer.from(JSON.stringify([translate(params)]))
}
