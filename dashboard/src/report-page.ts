// What the three report pages share: the stored windows, the window form, and reading the chosen report.

import { api, errorBox, loading, stateBox } from './api'
import { h, render, type Child } from './dom'
import { dateTime } from './format'

interface Stored { from: number, to: number, params: Record<string, string> }

interface ReportMeta { from: number, to: number, computedAt: string, params: Record<string, unknown> }

/** The report parameters a page's query string may carry, besides the window. */
const PARAMS: Record<string, string[]> = { traffic: ['platform', 'top', 'bots'], platforms: ['platforms', 'bots'], channel: ['channel', 'bots'] }

/** A stored row key's parameters as the page's query parameters. */
function queryOf (s: Stored): URLSearchParams {
  const q = new URLSearchParams({ from: new Date(s.from).toISOString(), to: new Date(s.to).toISOString() })
  if (s.params.top !== undefined) q.set('top', s.params.top)
  if (s.params.platform !== undefined) q.set('platform', s.params.platform)
  if (s.params.bots === '1') q.set('bots', '1')
  if (s.params.platforms !== undefined && s.params.platforms !== '*') q.set('platforms', s.params.platforms.split('+').join(','))
  if (s.params.channel !== undefined && s.params.channel !== '*') q.set('channel', s.params.channel)
  return q
}

function describe (s: Stored): string {
  const p = Object.entries(s.params).filter(([k]) => k !== 'bots').map(([k, v]) => `${k} ${v === '*' ? 'all' : v.split('+').join(', ')}`)
  if (s.params.bots === '1') p.push('with bots')
  return `${dateTime(s.from)} – ${dateTime(s.to)}${p.length > 0 ? ` · ${p.join(', ')}` : ''}`
}

/** The window form: a list of the stored windows, and from, to and the report's parameters to type. */
function windowForm (stored: Stored[], q: URLSearchParams, extra: HTMLElement[]): HTMLElement {
  // The option of the window shown: the same times and the same parameters, the defaults filled in.
  const norm = (p: URLSearchParams): string => ['from', 'to', 'top', 'platform', 'bots', 'platforms', 'channel'].map(k => {
    const v = p.get(k) ?? (k === 'top' ? '10' : k === 'bots' ? '0' : '')
    return k === 'from' || k === 'to' ? String(/^\d+$/.test(v) ? Number(v) : Date.parse(v)) : v
  }).join('|')
  const current = norm(q)
  const select = h('select', { 'aria-label': 'stored reports' },
    h('option', { value: '' }, stored.length === 0 ? 'none stored yet' : `${stored.length} stored`),
    ...stored.map(s => {
      const value = queryOf(s).toString()
      const o = h('option', { value }, describe(s))
      if (norm(queryOf(s)) === current) o.selected = true
      return o
    }))
  select.addEventListener('change', () => { if (select.value !== '') location.search = select.value })
  const bots = h('input', { type: 'checkbox', name: 'bots', value: '1' })
  bots.checked = q.get('bots') === '1'
  return h('form', { class: 'window', method: 'get' },
    h('label', {}, 'Stored ', select),
    h('label', {}, 'From ', h('input', { name: 'from', value: q.get('from') ?? '', placeholder: '2026-11-28T00:00:00Z', size: '24' })),
    h('label', {}, 'To ', h('input', { name: 'to', value: q.get('to') ?? '', placeholder: '2026-11-29T00:00:00Z', size: '24' })),
    ...extra,
    h('label', {}, bots, ' with bots'),
    h('button', { type: 'submit' }, 'Show'),
    h('p', { class: 'hint' }, 'Times are ISO 8601 in UTC (Z) or with an offset, as `spoor report run` takes them; the report covers [from, to).'))
}

/** A text field of the form, kept from the query string. */
export function field (name: string, label: string, q: URLSearchParams, placeholder = ''): HTMLElement {
  return h('label', {}, `${label} `, h('input', { name, value: q.get(name) ?? '', placeholder }))
}

/**
 * Runs a report page: finds the window (the query string's, else the newest stored), shows the form, reads the report
 * and draws it; with nothing stored, or the window not stored, it says which command computes it.
 */
export async function reportPage<R extends { meta: ReportMeta }> (name: string, label: string, extra: (q: URLSearchParams) => HTMLElement[], draw: (report: R, q: URLSearchParams) => Child[], pick?: (stored: Stored[]) => Stored | undefined): Promise<void> {
  const q = new URLSearchParams(location.search)
  for (const k of [...q.keys()]) if (!['from', 'to', ...PARAMS[name]].includes(k)) q.delete(k)
  for (const k of [...q.keys()]) if (q.get(k) === '') q.delete(k)
  let stored: Stored[]
  try {
    stored = await api<Stored[]>('reports', { name })
  } catch (err) {
    render(errorBox(err, label))
    return
  }
  if (!q.has('from') && !q.has('to')) {
    const first = pick?.(stored) ?? stored[0]
    if (first === undefined) {
      render(windowForm(stored, q, extra(q)),
        stateBox('empty', `No ${label} report is stored yet. Compute one over yesterday (UTC), for instance, then reload this page:`, `npx spoor report run ${name} --day yesterday`, 'SPOOR_E_REPORT_NOT_FOUND'))
      return
    }
    for (const [k, v] of queryOf(first)) q.set(k, v)
  }
  const form = windowForm(stored, q, extra(q))
  render(form, loading(`the ${label} report`))
  try {
    const report = await api<R>('report', { name, ...Object.fromEntries(q) })
    const m = report.meta
    const summary = h('p', { class: 'window-summary', 'data-from': String(m.from), 'data-to': String(m.to) },
      `${dateTime(m.from)} – ${dateTime(m.to)} (your time zone), bots ${m.params.withBots === true ? 'counted' : 'left out'}; computed ${dateTime(Date.parse(m.computedAt.replace(/(\.\d{3})\d+/, '$1')))}.`)
    render(form, summary, ...draw(report, q))
  } catch (err) {
    render(form, errorBox(err, label))
  }
}
