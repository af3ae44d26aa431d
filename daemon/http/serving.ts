// What serves: one uWebSockets.js app on the shared port, with its own encoder, sending its batches to the main
// thread's commit. It runs in a worker thread of its own (serving-thread.ts), or, with server.threads = 1, in the main
// thread itself, where the same messages are passed as calls.

import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Batcher } from '../pipeline/batcher'
import { parseTrustedProxies } from './client-ip'
import type { Config } from '../config'
import { createLogger } from '../log'
import { Encoder, encoderOptions } from '../native'
import type { ServerContext } from './intake'
import { listen, type Server } from './server'
import { SharedState } from '../pipeline/shared-state'

/** What the main thread hands each server. */
export interface ThreadData {
  config: Config
  index: number
  threads: number
  sab: SharedArrayBuffer
}

/** Messages between the main thread and a server. */
export type ToMain =
  | { type: 'listening', port: number }
  | { type: 'batch', id: number, batch: Uint8Array }
  | { type: 'stopped' }
export type ToThread =
  | { type: 'committed', id: number, error?: string }
  | { type: 'reload', config: Config }
  | { type: 'close' }
  | { type: 'stop' }
  | { type: 'abort' }

/** How a server and the main thread reach each other: a worker's port, or calls within the main thread. */
export interface Channel {
  send: (message: ToMain, transfer?: ArrayBuffer[]) => void
  onMessage: (handler: (message: ToThread) => void) => void
}

/** Starts one server; it says `listening` when it is, and `stopped` when a `stop` or `abort` has been carried out. */
export function serve (data: ThreadData, channel: Channel): void {
  const state = new SharedState(data.sab, data.threads)
  const counters = state.thread(data.index)
  const log = createLogger(data.config.log.level).child({ thread: data.index })

  // Batches wait here for the main thread to say LMDB committed them.
  const waiting = new Map<number, { resolve: () => void, reject: (err: Error) => void }>()
  let nextId = 0

  function send (message: ToMain, transfer: ArrayBuffer[] = []): void {
    channel.send(message, transfer)
  }

  let config = data.config
  let encoder = new Encoder(encoderOptions(config))
  const batcher = new Batcher(encoder, async batch => await new Promise<void>((resolve, reject) => {
    const id = nextId++
    waiting.set(id, { resolve, reject })
    // Transferred, not copied: the encoder hands each batch over as the whole of an ArrayBuffer of its own.
    send({ type: 'batch', id, batch }, [batch.buffer as ArrayBuffer])
  }))

  function context (config: Config, encoder: Encoder): ServerContext {
    return { config, encoder, batcher, state, counters, trusted: parseTrustedProxies(config.server.trustedProxies) }
  }

  let server: Server | undefined

  channel.onMessage(message => {
    switch (message.type) {
      case 'committed': {
        const w = waiting.get(message.id)
        waiting.delete(message.id)
        if (message.error == null) w?.resolve()
        else w?.reject(new Error(message.error))
        return
      }
      case 'reload': {
        const before = JSON.stringify(encoderOptions(config))
        config = message.config
        log.level = config.log.level
        if (JSON.stringify(encoderOptions(config)) !== before) {
          encoder = new Encoder(encoderOptions(config))
          batcher.replaceEncoder(encoder)
        }
        batcher.start(config.batch.intervalMs)
        server?.reload(context(config, encoder))
        return
      }
      case 'close':
        server?.close()
        return
      case 'abort':
        server?.closeAll()
        send({ type: 'stopped' })
        return
      case 'stop':
        server?.close()
        batcher.stop().then(
          () => {},
          (err: Error) => log.error({ err }, 'the last batch could not be committed')
        ).finally(() => {
          // Open keep-alive connections would keep this thread alive, and Node aborts a thread ended with sockets open.
          server?.closeAll()
          send({ type: 'stopped' })
        })
    }
  })

  // The event-loop delay of this thread, published every second for the metrics.
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  setInterval(() => {
    counters.eventLoopLag(delay.percentile(99) / 1e6)
    delay.reset()
  }, 1000).unref()

  // The demo page is development code (daemon/dev/): loaded only when server.demo is on.
  const demo = config.server.demo ? (require('../dev/demo') as typeof import('../dev/demo')).demoRoutes : undefined
  listen(context(config, encoder), log, demo !== undefined ? app => demo(app, config, log) : undefined).then(
    s => {
      server = s
      batcher.start(config.batch.intervalMs)
      send({ type: 'listening', port: s.port })
    },
    (err: Error) => {
      log.fatal({ err }, 'serving thread could not listen')
      process.exit(1)
    }
  )
}
