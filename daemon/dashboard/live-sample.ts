// What the Live page's API answers: written once, for the server (live.ts) and the browser (dashboard/src/pages/live.ts).
// Types only, with no imports, so that the browser build can read it.

/** One sample of the collector's counters; the page turns two samples into rates. */
export interface LiveSample {
  /** When it was read, ms since the epoch. */
  at: number
  /** The admin listener it came from. */
  source: string
  requests: Array<{ route: string, status: string, count: number }>
  rejected: Record<string, number>
  eventsAccepted: number
  eventsDelivered: number
  eventsDropped: number
  eventsBotsDropped: number
  batchesAcknowledged: number
  batchesDeadLettered: number
  flushRetries: number
  flushInFlight: number
  bufferBytes: number
  bufferBatches: number
  oldestBatchAgeSeconds: number
  eventLoopLagSeconds: number
  draining: boolean
  /** spoor_flush_duration_seconds summed over its outcomes: flushes and their total seconds. */
  flush: { count: number, seconds: number }
}
