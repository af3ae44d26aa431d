// Delivery: the queue goes to POST {collector}/e after flushMs, with retries and backoff, and to a
// beacon when the page goes away.
//
// The answer decides: 2xx means stored, so the events leave the queue; 429, 5xx and network errors
// are retried after Retry-After seconds when the answer has one, else after a backoff that doubles
// from 1 s to 60 s; any other 4xx refuses the batch for good, so it is dropped. A beacon gives no
// answer, so its events stay queued and are sent again by the next page: their eids make that
// harmless.

import { type SpoorEvent, read, remove } from './queue'

export interface Sender {
  /** POST endpoint, `{collector}/e`. */
  url: string
  flushMs: number
  /** Resolves once the identity helpers answered or gave up; sending waits for it. */
  ready: Promise<unknown>
  /** Adds the ids that became known after the event was queued. */
  fill: (e: SpoorEvent) => void
  /** True when the visitor opted out: nothing is sent. */
  off: () => boolean
}

const TYPE = 'text/plain;charset=UTF-8'
let sender: Sender | undefined
let timer: ReturnType<typeof setTimeout> | undefined
let busy = false
let backoff = 0
let lastBeacon = ''

export function start (s: Sender): void {
  sender = s
  if (read().length > 0) schedule()
}

/** Sends the queue after flushMs, unless a send or a retry is already on its way. */
export function schedule (): void {
  if (sender !== undefined && timer === undefined && !busy) timer = setTimeout(flush, sender.flushMs)
}

function body (s: Sender, batch: SpoorEvent[]): string {
  batch.forEach(s.fill)
  return JSON.stringify(batch)
}

async function flush (): Promise<void> {
  timer = undefined
  const s = sender
  if (s === undefined || s.off() || read().length === 0) return
  busy = true
  let wait = 0
  try {
    await s.ready
    const batch = read()
    const res = await fetch(s.url, { method: 'POST', body: body(s, batch), headers: { 'Content-Type': TYPE }, credentials: 'include' })
    if (res.status < 400 || (res.status < 500 && res.status !== 429)) {
      remove(batch.map(e => e.eid))
      backoff = 0
    } else {
      wait = retryDelay(Number(res.headers.get('Retry-After')))
    }
  } catch {
    wait = retryDelay(0)
  }
  busy = false
  if (wait > 0) timer = setTimeout(flush, wait)
  else schedule()
}

/** Retry-After seconds when given, else the next step of the backoff. */
function retryDelay (retryAfter: number): number {
  backoff = Math.min(backoff > 0 ? backoff * 2 : 1000, 60000)
  return retryAfter > 0 ? retryAfter * 1000 : backoff
}

/** Hands the queue to the browser as the page is hidden or left; see the file comment for why it stays queued. */
export function beacon (): void {
  const s = sender
  if (s === undefined || s.off()) return
  const batch = read()
  if (batch.length === 0) return
  const text = body(s, batch)
  // visibilitychange and pagehide both fire when a page is left: one beacon is enough.
  if (text === lastBeacon) return
  lastBeacon = text
  try {
    if (navigator.sendBeacon(s.url, new Blob([text], { type: TYPE }))) return
  } catch {}
  fetch(s.url, { method: 'POST', body: text, headers: { 'Content-Type': TYPE }, credentials: 'include', keepalive: true }).catch(() => {})
}
