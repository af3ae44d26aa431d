// State the main thread and the serving threads share without messages: shutdown flags, the buffer's size, and every counter.
//
// One SharedArrayBuffer holds Int32 flags, then Float64 slots: a block written only by the main thread, then
// one block per serving thread written only by that thread. Each slot has one writer, so plain `+=` is safe;
// readers sum the blocks and may see a value a moment old, which is all that health and metrics need.

import { errors } from '../errors'

export const ROUTES = ['pixel', 'pixel_head', 'events', 'preflight', 'healthz', 'tracker', 'sync', 'id', 'optout', 'snowplow_pixel', 'snowplow_post', 'snowplow_preflight', 'other'] as const
export type Route = typeof ROUTES[number]
export const STATUSES = [200, 204, 302, 304, 400, 404, 411, 413, 414, 415, 431, 500, 503] as const

/** Codes a client can be refused with, one counter each. */
export const REJECT_CODES: readonly string[] = Object.values(errors).filter(e => e.status > 0).map(e => e.code)

/** Slots the main thread writes. */
export const MAIN_SLOTS = [
  'bufferBytes', 'bufferBatches', 'flushActive',
  'batchesBuffered', 'bytesBuffered', 'eventsBuffered', 'batchesLost', 'eventsLost',
  'eventsDelivered', 'eventsDroppedBots', 'batchesAcknowledged', 'flushRetries', 'batchesDeadLettered'
] as const
export type MainSlot = typeof MAIN_SLOTS[number]

const THREAD_FIXED = ['eventsAccepted', 'eventsDropped', 'eventLoopLagMs'] as const
const REQUEST_BASE = THREAD_FIXED.length
const REJECT_BASE = REQUEST_BASE + ROUTES.length * STATUSES.length
const THREAD_SLOTS = REJECT_BASE + REJECT_CODES.length
// Int32 flags; an even count keeps the Float64 slots after them aligned.
const FLAGS = 4
const FLAG_DRAINING = 0
const FLAG_ACCEPTING = 1
const FLAG_UNWRITABLE = 2

const statusIndex = new Int8Array(600).fill(-1)
STATUSES.forEach((s, i) => { statusIndex[s] = i })
const rejectIndex = new Map(REJECT_CODES.map((code, i) => [code, i]))
const routeIndex = new Map(ROUTES.map((r, i) => [r, i]))

export function sharedStateBytes (threads: number): number {
  return FLAGS * 4 + 8 * (MAIN_SLOTS.length + threads * THREAD_SLOTS)
}

export class SharedState {
  readonly flags: Int32Array
  readonly main: Float64Array
  private readonly all: Float64Array

  constructor (readonly sab: SharedArrayBuffer, readonly threads: number) {
    this.flags = new Int32Array(sab, 0, FLAGS)
    this.all = new Float64Array(sab, FLAGS * 4 + 0, MAIN_SLOTS.length + threads * THREAD_SLOTS)
    this.main = this.all.subarray(0, MAIN_SLOTS.length)
  }

  static create (threads: number): SharedState {
    const state = new SharedState(new SharedArrayBuffer(sharedStateBytes(threads)), threads)
    Atomics.store(state.flags, FLAG_ACCEPTING, 1)
    return state
  }

  get draining (): boolean { return Atomics.load(this.flags, FLAG_DRAINING) === 1 }
  set draining (on: boolean) { Atomics.store(this.flags, FLAG_DRAINING, on ? 1 : 0) }
  get accepting (): boolean { return Atomics.load(this.flags, FLAG_ACCEPTING) === 1 }
  set accepting (on: boolean) { Atomics.store(this.flags, FLAG_ACCEPTING, on ? 1 : 0) }
  /** Set when a buffer append failed (a full or failing disk), until an append or a flush frees or finds room. */
  get unwritable (): boolean { return Atomics.load(this.flags, FLAG_UNWRITABLE) === 1 }
  set unwritable (on: boolean) { Atomics.store(this.flags, FLAG_UNWRITABLE, on ? 1 : 0) }

  get bufferBytes (): number { return this.main[0] }

  add (slot: MainSlot, n = 1): void { this.main[MAIN_SLOTS.indexOf(slot)] += n }
  set (slot: MainSlot, value: number): void { this.main[MAIN_SLOTS.indexOf(slot)] = value }
  get (slot: MainSlot): number { return this.main[MAIN_SLOTS.indexOf(slot)] }

  /** The counters block of one serving thread. */
  thread (index: number): ThreadCounters {
    const start = MAIN_SLOTS.length + index * THREAD_SLOTS
    return new ThreadCounters(this.all.subarray(start, start + THREAD_SLOTS))
  }

  private sumThreads (slot: number): number {
    let n = 0
    for (let t = 0; t < this.threads; t++) n += this.all[MAIN_SLOTS.length + t * THREAD_SLOTS + slot]
    return n
  }

  get eventsAccepted (): number { return this.sumThreads(0) }

  /** The worst of the serving threads' recent event-loop delays, in ms. */
  maxThreadLagMs (): number {
    let worst = 0
    for (let t = 0; t < this.threads; t++) worst = Math.max(worst, this.all[MAIN_SLOTS.length + t * THREAD_SLOTS + 2])
    return worst
  }
  get eventsDropped (): number { return this.sumThreads(1) }

  /** Requests answered, by route and status, with a count above 0. */
  requests (): Array<{ route: Route, status: number, count: number }> {
    const out: Array<{ route: Route, status: number, count: number }> = []
    ROUTES.forEach((route, r) => STATUSES.forEach((status, s) => {
      const count = this.sumThreads(REQUEST_BASE + r * STATUSES.length + s)
      if (count > 0) out.push({ route, status, count })
    }))
    return out
  }

  /** Refused requests by error code, with a count above 0. */
  rejected (): Record<string, number> {
    const out: Record<string, number> = {}
    REJECT_CODES.forEach((code, i) => {
      const count = this.sumThreads(REJECT_BASE + i)
      if (count > 0) out[code] = count
    })
    return out
  }

  /** Everything, as /healthz shows it. */
  snapshot (): Record<string, unknown> {
    const main = Object.fromEntries(MAIN_SLOTS.map((slot, i) => [slot, this.main[i]]))
    return { ...main, eventsAccepted: this.eventsAccepted, eventsDropped: this.eventsDropped, requests: this.requests(), rejected: this.rejected() }
  }
}

/** One serving thread's counters; the request path increments them. */
export class ThreadCounters {
  constructor (private readonly slots: Float64Array) {}

  accepted (n: number): void { this.slots[0] += n }
  dropped (): void { this.slots[1]++ }
  eventLoopLag (ms: number): void { this.slots[2] = ms }

  request (route: number, status: number): void {
    this.slots[REQUEST_BASE + route * STATUSES.length + statusIndex[status]]++
  }

  reject (code: string): void {
    this.slots[REJECT_BASE + (rejectIndex.get(code) as number)]++
  }
}

export const ROUTE: Record<Route, number> = Object.fromEntries(ROUTES.map(r => [r, routeIndex.get(r) as number])) as Record<Route, number>
