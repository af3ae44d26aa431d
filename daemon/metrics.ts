// Counters of everything the collector does, read by /healthz and the logs.

export class Metrics {
  /** Pixel requests answered with the GIF, recorded or not. */
  pixels = 0
  /** POST /e requests answered 204. */
  posts = 0
  /** Events the encoder accepted into a batch. */
  eventsAccepted = 0
  /** Pixel events not recorded because the buffer was over its limit. */
  eventsDropped = 0
  /** Requests refused, by error code. */
  readonly rejected: Record<string, number> = {}
  /** Batches and bytes committed to the buffer. */
  batchesBuffered = 0
  bytesBuffered = 0
  /** Batches lost because the buffer could not commit them. */
  batchesLost = 0
  /** Events and batches HBase acknowledged. */
  eventsDelivered = 0
  batchesAcknowledged = 0
  /** Failed flush attempts that will be retried. */
  flushRetries = 0
  /** Batches moved to the dead-letter store. */
  batchesDeadLettered = 0

  reject (code: string): void {
    this.rejected[code] = (this.rejected[code] ?? 0) + 1
  }
}
