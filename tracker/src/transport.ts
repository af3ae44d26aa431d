// Delivery: the queue goes to POST {collector}/e after flushMs, with retries and backoff, and to a
// beacon when the page goes away.
//
// The answer decides: 2xx means stored, so the events leave the queue; 429, 5xx and network errors
// are retried after Retry-After seconds when the answer has one, else after a backoff that doubles
// from 1 s to 60 s; any other 4xx refuses the batch for good, so it is dropped.
//
// The collector keys rows by its own receive time, so an event sent twice is stored twice (under one
// event id, which reports can count once). So a beacon the browser accepted takes its events out of
// the queue, and so does the page's last POST when the page goes: every POST is `keepalive`, so it
// outlives the page, even where the page sees it fail as it is torn down.

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
/**
 * Event ids of the last POST while its outcome is unknown: on its way, or failed without an answer. A keepalive POST
 * outlives the page, so when the page goes they are taken as sent, like a beacon's.
 */
let inFlight: string[] = []
let keptAlive = false
/** Browsers refuse a keepalive request body over 64 KiB. */
const KEEPALIVE_MAX = 65536

export function start (s: Sender): void {
  sender = s
  if (read().length > 0) schedule()
}

/** Sends the queue after flushMs, unless a send or a retry is already on its way. */
export function schedule (): void {
  if (sender !== undefined && timer === undefined && !busy) timer = setTimeout(sendQueue, sender.flushMs)
}

function body (s: Sender, batch: SpoorEvent[]): string {
  batch.forEach(s.fill)
  return JSON.stringify(batch)
}

async function sendQueue (): Promise<void> {
  timer = undefined
  const s = sender
  if (s === undefined || s.off() || read().length === 0) return
  busy = true
  let wait = 0
  try {
    await s.ready
    const batch = read()
    const text = body(s, batch)
    inFlight = batch.map(e => e.eid)
    // A UTF-16 unit is at most 3 bytes of UTF-8.
    keptAlive = text.length < KEEPALIVE_MAX / 3
    const res = await fetch(s.url, { method: 'POST', body: text, headers: { 'Content-Type': TYPE }, credentials: 'include', keepalive: keptAlive })
    if (res.status < 400 || (res.status < 500 && res.status !== 429)) {
      remove(inFlight)
      backoff = 0
    } else {
      wait = retryDelay(Number(res.headers.get('Retry-After')))
    }
    inFlight = []
  } catch {
    wait = retryDelay(0)
  }
  busy = false
  if (wait > 0) timer = setTimeout(sendQueue, wait)
  else schedule()
}

/** Retry-After seconds when given, else the next step of the backoff. */
function retryDelay (retryAfter: number): number {
  backoff = Math.min(backoff > 0 ? backoff * 2 : 1000, 60000)
  return retryAfter > 0 ? retryAfter * 1000 : backoff
}

/**
 * Hands the queue, less the last POST, to the browser as the page is hidden (`leaving` false) or left. A beacon the
 * browser takes is as good as sent, and so is the last POST once the page is left, if it was kept alive: their
 * events leave the queue, so visibilitychange and pagehide, which both fire when a page is left, send them once.
 * Where sendBeacon is missing or refuses (over 64 KiB), they stay queued for the next page.
 */
export function beacon (leaving: boolean): void {
  const s = sender
  if (s === undefined || s.off()) return
  if (leaving && keptAlive && inFlight.length > 0) {
    remove(inFlight)
    inFlight = []
  }
  const batch = read().filter(e => inFlight.indexOf(e.eid) < 0)
  if (batch.length === 0) return
  try {
    if (navigator.sendBeacon(s.url, new Blob([body(s, batch)], { type: TYPE }))) remove(batch.map(e => e.eid))
  } catch {}
}
