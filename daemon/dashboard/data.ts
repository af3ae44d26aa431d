// The dashboard's reads: stored reports, one id's identity, one user's newest events; every parameter checked first.

import type { Config } from '../config'
import { SpoorError } from '../errors'
import { HBaseClient, KEYS_ONLY } from '../hbase/client'
import { ID_TYPES, parseId, resolveUser, type Resolution } from '../hbase/identity'
import { scanPrefix } from '../hbase/reader'
import { userRowPrefix } from '../native'
import { checkReportsTable, DEFAULT_PARAMS, readReport, reportDef, REPORTS, type Report, type ReportParams } from '../reports/reports'

/** A dashboard parameter that cannot be used; answered 400 with the message, which the page shows. */
export class BadRequest extends SpoorError {
  constructor (detail: string) {
    super('DASHBOARD_BAD_REQUEST', detail)
  }
}

/** The longest id the User page looks up; the collector's uids and login ids are far shorter (limits.max_value_bytes). */
export const MAX_ID_BYTES = 1024
/** The most events one page of the User page shows. */
export const MAX_PAGE = 500

async function withClient<T> (config: Config, fn: (client: HBaseClient) => Promise<T>): Promise<T> {
  const where = `${config.hbase.host}:${config.hbase.port}`
  const client = await HBaseClient.connect({ host: config.hbase.host, port: config.hbase.port, connectTimeoutMs: 5000, requestTimeoutMs: 30000 })
    .catch((err: Error) => { throw new SpoorError('HBASE_UNAVAILABLE', `no Thrift2 gateway at ${where} (${err.message})`) })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

function time (q: URLSearchParams, name: 'from' | 'to'): number {
  const text = q.get(name)
  if (text === null || text === '') throw new BadRequest(`the window needs ${name}, a time (ISO 8601, such as 2026-11-28T00:00:00Z, or ms since the epoch)`)
  const ms = /^\d{1,15}$/.test(text) ? Number(text) : /^\d/.test(text) ? Date.parse(text) : NaN
  if (!Number.isSafeInteger(ms)) throw new BadRequest(`${name} is not a time: ${JSON.stringify(text.slice(0, 100))}; write it as ISO 8601, such as 2026-11-28T00:00:00Z`)
  return ms
}

/** A report's name, window and parameters from a query string, checked as `spoor report show` checks them. */
export function reportQuery (q: URLSearchParams): { name: string, from: number, to: number, params: ReportParams } {
  const name = q.get('name') ?? ''
  if (!Object.hasOwn(REPORTS, name)) throw new BadRequest(`there is no report ${JSON.stringify(name.slice(0, 100))}; the reports are ${Object.keys(REPORTS).join(', ')}`)
  const from = time(q, 'from')
  const to = time(q, 'to')
  if (from >= to) throw new SpoorError('REPORT_WINDOW', `from ${new Date(from).toISOString()} is not before to ${new Date(to).toISOString()}; a window starts before it ends`)
  const topText = q.get('top') ?? String(DEFAULT_PARAMS.top)
  const top = /^\d{1,6}$/.test(topText) ? Number(topText) : NaN
  if (!(top >= 1)) throw new BadRequest(`top must be a whole number from 1 to 999999, not ${JSON.stringify(topText.slice(0, 100))}`)
  const bots = q.get('bots') ?? '0'
  if (bots !== '0' && bots !== '1') throw new BadRequest('bots is 0 (bots left out) or 1 (counted)')
  const platformsText = q.get('platforms') ?? ''
  const platforms = platformsText === '' ? [] : platformsText.split(',').map(p => p.trim())
  if (platforms.some(p => p === '')) throw new BadRequest('platforms takes platform names separated by commas, such as web,android')
  const optional = (key: string): string | undefined => { const v = q.get(key); return v === null || v.trim() === '' ? undefined : v.trim() }
  return { name, from, to, params: { top, platform: optional('platform'), withBots: bots === '1', platforms, channel: optional('channel') } }
}

/** A shell word: quoted when it holds anything but plain characters. */
const shellWord = (w: string): string => /^[A-Za-z0-9_.,:/+=-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`

/** The exact `spoor report run` command that computes a report the dashboard did not find. */
export function runCommand (name: string, from: number, to: number, p: ReportParams): string {
  const args = ['npx', 'spoor', 'report', 'run', name, '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString()]
  if (name === 'traffic' && p.top !== DEFAULT_PARAMS.top) args.push('--top', String(p.top))
  if (name === 'traffic' && p.platform !== undefined) args.push('--platform', p.platform)
  if (name === 'platforms' && p.platforms.length > 0) args.push('--platforms', p.platforms.join(','))
  if (name === 'channel' && p.channel !== undefined) args.push('--channel', p.channel)
  if (p.withBots) args.push('--with-bots')
  return args.map(shellWord).join(' ')
}

/** A stored report, or SPOOR_E_REPORT_NOT_FOUND carrying the command that computes it. */
export async function getReport (config: Config, q: URLSearchParams): Promise<Report> {
  const { name, from, to, params } = reportQuery(q)
  const table = config.hbase.reportsTable
  const found = await withClient(config, async c => {
    await checkReportsTable(c, table)
    return await readReport(c, table, name, from, to, params)
  })
  if (found === undefined) {
    throw Object.assign(new SpoorError('REPORT_NOT_FOUND', `${name} over [${new Date(from).toISOString()}, ${new Date(to).toISOString()}) with these parameters is not stored; compute it with the command below`),
      { command: runCommand(name, from, to, params) })
  }
  return found
}

/** One stored report's window and parameters, read from its row key. */
export interface StoredReport { from: number, to: number, params: Record<string, string> }

/** The windows and parameters of the stored reports of one name, newest window first: one keys-only prefix scan. */
export async function listReports (config: Config, q: URLSearchParams): Promise<StoredReport[]> {
  const name = q.get('name') ?? ''
  if (!Object.hasOwn(REPORTS, name)) throw new BadRequest(`there is no report ${JSON.stringify(name.slice(0, 100))}; the reports are ${Object.keys(REPORTS).join(', ')}`)
  reportDef(name)
  const table = config.hbase.reportsTable
  const keys = await withClient(config, async c => {
    await checkReportsTable(c, table)
    const prefix = `${name}|`
    const stop = `${name}}`
    return (await c.getScannerResults(table, { startRow: Buffer.from(prefix), stopRow: Buffer.from(stop), filterString: KEYS_ONLY }, 10000)).map(r => (r.row ?? Buffer.alloc(0)).toString('utf8'))
  })
  const out: StoredReport[] = []
  for (const key of keys) {
    const [, fromText, toText, paramsText] = key.split('|')
    const params: Record<string, string> = {}
    for (const part of (paramsText ?? '').split(',')) {
      const i = part.indexOf('=')
      if (i > 0) params[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1))
    }
    out.push({ from: Date.parse(fromText), to: Date.parse(toText), params })
  }
  return out.sort((a, b) => b.from - a.from || b.to - a.to)
}

/** The id asked about, as the identity table names it: a typed id (t:value), else a plain uid, taken as u:uid. */
export function idQuery (q: URLSearchParams): { id: string, uid?: string } {
  const text = (q.get('id') ?? '').trim()
  if (text === '') throw new BadRequest('type an id: a uid, or an id written t:value, such as u:<uid> or l:alice')
  if (Buffer.byteLength(text) > MAX_ID_BYTES) throw new BadRequest(`the id is ${Buffer.byteLength(text)} bytes long; ids are at most ${MAX_ID_BYTES} bytes, and the collector stores none longer than limits.max_value_bytes`)
  const typed = /^([a-z]):./s.exec(text)
  if (typed !== null && typed[1] in ID_TYPES) {
    const { id, type, value } = parseId(text)
    return type === 'u' ? { id, uid: value } : { id }
  }
  return { id: parseId(`u:${text}`).id, uid: parseId(`u:${text}`).value }
}

export async function getIdentity (config: Config, q: URLSearchParams): Promise<Resolution> {
  const { id } = idQuery(q)
  const options = { identityTable: config.hbase.identityTable, saltBuckets: config.hbase.saltBuckets }
  return await withClient(config, async c => await resolveUser(c, options, id))
}

export interface EventsPage {
  uid: string
  events: Array<{ ts: number } & Record<string, string | number>>
  /** The key to pass as `after` for the next, older page; absent on the last page. */
  next?: string
}

/** One page of a uid's events, newest first: one prefix scan of the by-user table, as `spoor user` reads them. */
export async function getEvents (config: Config, q: URLSearchParams): Promise<EventsPage> {
  const { uid } = idQuery(q)
  if (uid === undefined) throw new BadRequest('events are stored by uid: ask for a uid or a u: id (the identity above lists the uids linked to this id)')
  const limitText = q.get('limit') ?? '50'
  const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN
  if (!(limit >= 1 && limit <= MAX_PAGE)) throw new BadRequest(`limit must be a whole number from 1 to ${MAX_PAGE}, not ${JSON.stringify(limitText.slice(0, 100))}`)
  const prefix = userRowPrefix(uid, config.hbase.saltBuckets)
  const afterText = q.get('after')
  let after: Buffer | undefined
  if (afterText !== null) {
    after = /^(?:[0-9a-f]{2}){1,512}$/.test(afterText) ? Buffer.from(afterText, 'hex') : undefined
    if (after === undefined || !after.subarray(0, prefix.length).equals(prefix)) throw new BadRequest('after is not the key of one of this uid\'s events; page from the first page again')
  }
  // One more row than shown tells whether an older page exists.
  const rows = await withClient(config, async c => await scanPrefix(c, config.hbase.userTable, prefix, limit + 1, after))
  const shown = rows.slice(0, limit)
  return {
    uid,
    events: shown.map(r => ({ ts: r.ts, ...r.cells })),
    ...(rows.length > limit ? { next: shown[shown.length - 1].row.toString('hex') } : {})
  }
}
