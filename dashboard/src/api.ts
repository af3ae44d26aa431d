// The dashboard's JSON API as the pages call it, and the error and empty states they show.

import { h, type Child } from './dom'

/** A report the dashboard computes (dashboard.allow_runs), as daemon/dashboard/runs.ts describes it. */
export interface RunState { key: string, user: string, started: number, finished?: number, error?: { code: string, message: string } }

/** What an error answer carries: its code and message, and for a missing report how to compute it. */
interface ErrorBody { code: string, message: string, command?: string, runs?: boolean, run?: RunState }

export class ApiError extends Error {
  readonly code: string
  readonly command?: string
  /** A missing report: whether the dashboard can compute it, and its run if one was started. */
  readonly runs: boolean
  readonly run?: RunState

  constructor (readonly status: number, e: ErrorBody) {
    super(e.message)
    this.code = e.code
    this.command = e.command
    this.runs = e.runs === true
    this.run = e.run
  }
}

/**
 * GETs /api/NAME with the parameters (or POSTs, for a run); an answer that is not 2xx becomes an ApiError with its
 * code and message.
 */
export async function api<T> (name: string, params: Record<string, string | undefined> = {}, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v)
  let res: Response
  try {
    // The run header marks a request as the page's own (daemon/dashboard/server.ts).
    res = await fetch(`/api/${name}?${q.toString()}`, { method, headers: { accept: 'application/json', ...(method === 'POST' ? { 'x-spoor-request': 'run' } : {}) } })
  } catch (err) {
    throw new ApiError(0, { code: 'NETWORK', message: `the dashboard did not answer (${(err as Error).message}); is spoor dashboard still running?` })
  }
  if (res.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`)
  }
  let body: { error?: ErrorBody } & T
  try {
    body = await res.json()
  } catch {
    throw new ApiError(res.status, { code: 'BAD_ANSWER', message: `the dashboard answered ${res.status} without JSON` })
  }
  if (!res.ok || body.error !== undefined) {
    throw new ApiError(res.status, body.error ?? { code: 'UNKNOWN', message: `the dashboard answered ${res.status}` })
  }
  return body
}

/** A message in place of content: what happened and, when there is one, the command that fixes it. */
export function stateBox (kind: 'empty' | 'error', message: string, command?: string, code?: string): HTMLElement {
  return h('div', { class: `state ${kind}`, role: kind === 'error' ? 'alert' : undefined, 'data-code': code },
    h('p', {}, message),
    command !== undefined ? h('pre', { class: 'command' }, h('code', {}, command)) : null)
}

/** An ApiError (or any error) as a state box; a missing report says how to compute it. */
export function errorBox (err: unknown, what = ''): HTMLElement {
  if (err instanceof ApiError) {
    // A report not computed yet is an empty state, not an error: the page says which command computes it.
    if (err.code === 'SPOOR_E_REPORT_NOT_FOUND') return stateBox('empty', `No ${what} report is stored for this window with these parameters. Compute it with:`, err.command, err.code)
    const box = stateBox('error', err.message, err.command, err.code)
    box.prepend(h('p', { class: 'code' }, err.code))
    return box
  }
  return stateBox('error', `Something went wrong in the page: ${(err as Error).message}`)
}

export function loading (what: string): Child {
  return h('p', { class: 'state', id: 'state' }, `Loading ${what}…`)
}
