// Wires the collector together: encoder, batcher, buffer, flusher and HTTP server, and shuts them down in order.

import { Batcher } from './batcher'
import { EventBuffer } from './buffer'
import type { Config } from './config'
import { demoRoutes } from './demo'
import { Flusher } from './flush'
import type { Logger } from './log'
import { Metrics } from './metrics'
import { Encoder } from './native'
import { listen } from './server'

export interface Collector {
  port: number
  metrics: Metrics
  /** Stops taking requests, commits the in-memory batch and waits up to timeoutMs for the flushes in flight. */
  close: (timeoutMs?: number) => Promise<void>
}

export function encoderOptions (config: Config): ConstructorParameters<typeof Encoder>[0] {
  const l = config.limits
  return {
    saltBuckets: config.hbase.saltBuckets,
    maxQueryBytes: l.maxQueryBytes,
    maxFields: l.maxFields,
    maxValueBytes: l.maxValueBytes,
    maxDataBytes: l.maxDataBytes,
    maxEventsPerPost: l.maxEventsPerPost,
    maxJsonDepth: l.maxJsonDepth,
    batchMaxBytes: config.batch.maxBytes,
    anonymizeIp: config.privacy.anonymizeIp,
    cookieName: config.cookie.name
  }
}

export async function startCollector (config: Config, log: Logger): Promise<Collector> {
  const metrics = new Metrics()
  const buffer = new EventBuffer(config.dataDir)
  const encoder = new Encoder(encoderOptions(config))
  const flusher = new Flusher(buffer, config, metrics, log)
  const batcher = new Batcher(encoder, buffer, () => flusher.kick(), metrics, log)
  let draining = false
  let accepting = true

  if (buffer.batchCount > 0) {
    log.info({ batches: buffer.batchCount, bytes: buffer.size }, 'flushing batches left in the buffer by the last run')
  }

  const server = await listen({
    config,
    encoder,
    batcher,
    buffer,
    metrics,
    log,
    isDraining: () => draining,
    isAccepting: () => accepting,
    extraRoutes: config.server.demo ? app => demoRoutes(app, config, log) : undefined,
    health: () => ({ flush: { active: flusher.active } })
  })
  batcher.start(config.batch.intervalMs)
  flusher.kick()

  return {
    port: server.port,
    metrics,
    close: async (timeoutMs = config.flush.timeoutMs) => {
      draining = true
      server.close()
      // Keep-alive connections outlive the listen socket; what they send from here on is not recorded.
      accepting = false
      await batcher.stop()
      await flusher.stop(timeoutMs)
      await buffer.close()
      log.info({ left: buffer.batchCount }, 'stopped')
    }
  }
}
