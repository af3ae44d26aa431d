// What the three report pages share: the stored windows, the window form, and reading the chosen report.

import { api, ApiError, errorBox, loading, stateBox, type RunState } from './api'
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
    const box = errorBox(err, label)
    render(form, box)
    if (err instanceof ApiError && err.code === 'SPOOR_E_REPORT_NOT_FOUND' && err.runs) offerRun(box, { name, ...Object.fromEntries(q) }, err.run)
  }
}

/** How often a page asks how the report it is computing is doing. */
const RUN_POLL_MS = 2000

/**
 * With dashboard.allow_runs on, a missing report's box gains a button that computes it (POST /api/run); the page then
 * follows the run and shows the report when it is stored, or the job's error.
 */
function offerRun (box: HTMLElement, query: Record<string, string>, run: RunState | undefined): void {
  const status = h('p', { class: 'run-status', role: 'status' })
  const button = h('button', { type: 'button', class: 'run' }, 'Compute it now')
  box.append(h('div', { class: 'run' }, button, status))
  const show = (r: RunState | undefined): void => {
    if (r === undefined) return
    if (r.finished === undefined) {
      button.disabled = true
      status.textContent = `Computing since ${dateTime(r.started)}${r.user !== '' ? ` (started by ${r.user})` : ''}; the page shows the report when it is stored.`
      setTimeout(() => { void follow() }, RUN_POLL_MS)
    } else if (r.error !== undefined) {
      button.disabled = false
      button.textContent = 'Try again'
      status.textContent = `The run failed: ${r.error.code}: ${r.error.message}`
      status.setAttribute('data-code', r.error.code)
    } else {
      location.reload()
    }
  }
  const follow = async (): Promise<void> => {
    try {
      show((await api<{ run: RunState | null }>('run', query)).run ?? undefined)
    } catch (err) {
      status.textContent = (err as Error).message
    }
  }
  button.addEventListener('click', () => {
    button.disabled = true
    status.textContent = 'Starting…'
    api<{ run: RunState }>('run', query, 'POST').then(r => show(r.run), (err: ApiError) => {
      button.disabled = false
      status.textContent = `${err.code}: ${err.message}`
      status.setAttribute('data-code', err.code)
    })
  })
  // A run of an earlier visit that ended well has stored the report, so only one in progress or failed is shown.
  if (run !== undefined) show(run)
}
