// The collector's main thread: starts the servers (serving threads, or with server.threads = 1 a server in this
// thread), commits their batches to the buffer, runs the flush, reloads and drains.

import { createServer, type AddressInfo } from 'node:net'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { EventBuffer } from './buffer'
import { changedKeys, type Config } from '../config'
import { errors } from '../errors'
import { Flusher, type FlushObserver } from './flush'
import type { Logger } from '../log'
import { Sessions, sessionOptions } from '../native'
import { serve, type ThreadData, type ToMain, type ToThread } from '../http/serving'
import { SharedState } from './shared-state'

export interface Collector {
  port: number
  threads: number
  state: SharedState
  buffer: EventBuffer
  /** Applies a new config: what can change at run time does, the rest is logged as needing a restart. */
  reload: (config: Config) => void
  /**
   * Stops in order: fail health, wait shutdown.drain_seconds, close the listen sockets, commit the
   * in-memory batches, wait up to shutdown.timeout_seconds for the flushes in flight.
   */
  close: () => Promise<void>
  /** Moves the dead letters back into the buffer to be flushed again; returns how many. */
  replayDeadLetters: () => Promise<number>
  /** Closes every socket and ends the serving threads at once, for an exit without draining. */
  abort: () => Promise<void>
}

export interface CollectorHooks {
  /** Called when draining starts (systemd's STOPPING=1). */
  onDraining?: () => void
  onFlush?: FlushObserver
  /** Called with the size of each batch committed to the buffer. */
  onBatch?: (events: number, bytes: number) => void
}

/**
 * The serving thread's young generation, in MiB. What a request allocates dies before the next one, so a small one is
 * as cheap to collect as V8's default (which grows to 48 MiB under load) and keeps the RSS down: measured side by side
 * with bench/ab.sh, docs/benchmarks.md#memory.
 */
const SERVING_YOUNG_GENERATION_MB = 4

type OnBatch = (server: Serving, id: number, batch: Buffer) => void

/** A server as the main thread sees it: in a worker thread of its own, or in the main thread. */
interface Serving {
  readonly stopped: Promise<void>
  listening: () => Promise<number>
  post: (message: ToThread) => void
  /** Ends a serving thread once it has stopped; nothing to end for a server in the main thread. */
  end: () => Promise<void>
}

class ServingThread implements Serving {
  readonly worker: Worker
  readonly stopped: Promise<void>
  private stop: () => void = () => {}

  constructor (data: ThreadData, onBatch: OnBatch, log: Logger) {
    this.worker = new Worker(join(__dirname, '..', 'http', 'serving-thread.js'), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: SERVING_YOUNG_GENERATION_MB } })
    this.stopped = new Promise(resolve => { this.stop = resolve })
    this.worker.on('message', (m: ToMain) => {
      if (m.type === 'batch') onBatch(this, m.id, Buffer.from(m.batch.buffer, m.batch.byteOffset, m.batch.byteLength))
      else if (m.type === 'stopped') this.stop()
    })
    this.worker.on('error', err => {
      // A serving thread that dies takes events with it; let the supervisor restart the whole collector.
      log.fatal({ err, thread: data.index }, 'serving thread failed')
      process.exit(1)
    })
  }

  async listening (): Promise<number> {
    return await new Promise((resolve, reject) => {
      const onMessage = (m: ToMain): void => {
        if (m.type !== 'listening') return
        this.worker.off('message', onMessage)
        resolve(m.port)
      }
      this.worker.on('message', onMessage)
      this.worker.once('exit', code => reject(new Error(`serving thread exited with ${code} before listening`)))
    })
  }

  post (message: ToThread): void {
    this.worker.postMessage(message)
  }

  async end (): Promise<void> {
    await this.worker.terminate()
  }
}

/**
 * The one server of `server.threads = 1`, in the main thread: no second V8 heap, and no hand-over between threads.
 * The messages are the serving thread's, delivered as calls in a later microtask, so that neither side runs inside
 * the other's call, as with a worker's port.
 */
class MainThreadServer implements Serving {
  readonly stopped: Promise<void>
  private readonly port: Promise<number>
  private handler: (message: ToThread) => void = () => {}

  constructor (data: ThreadData, onBatch: OnBatch) {
    let stop: () => void = () => {}
    let listening: (port: number) => void = () => {}
    this.stopped = new Promise(resolve => { stop = resolve })
    this.port = new Promise(resolve => { listening = resolve })
    serve(data, {
      send: m => queueMicrotask(() => {
        if (m.type === 'batch') onBatch(this, m.id, Buffer.from(m.batch.buffer, m.batch.byteOffset, m.batch.byteLength))
        else if (m.type === 'stopped') stop()
        else listening(m.port)
      }),
      onMessage: handler => { this.handler = handler }
    })
  }

  async listening (): Promise<number> {
    return await this.port
  }

  post (message: ToThread): void {
    queueMicrotask(() => this.handler(message))
  }

  async end (): Promise<void> {}
}

/** A TCP port on `host` that nothing listens on right now. */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(0, host, resolve)
  })
  const { port } = probe.address() as AddressInfo
  await new Promise(resolve => probe.close(resolve))
  return port
}

export async function startCollector (config: Config, log: Logger, hooks: CollectorHooks = {}): Promise<Collector> {
  const threads = config.server.threads === 0 ? availableParallelism() : config.server.threads
  const state = SharedState.create(threads)
  const buffer = new EventBuffer(config.dataDir, { sync: config.buffer.sync })
  const flusher = new Flusher(buffer, config, state, log, hooks.onFlush)
  state.set('bufferBytes', buffer.size)
  state.set('bufferBatches', buffer.batchCount)
  if (buffer.batchCount > 0) {
    log.info({ batches: buffer.batchCount, bytes: buffer.size }, 'flushing batches left in the buffer by the last run')
  }

  // One for all serving threads, as a user's requests reach any of them. It runs synchronously before the append,
  // which a POST's answer waits for; it costs about 0.2 to 0.45 µs per event (see docs/sessions.md).
  const sessions = new Sessions(sessionOptions(config))

  /** The batch with session ids; the batch as it came if that fails, so that no event is lost over a session id. */
  function withSessions (batch: Buffer): Buffer {
    try {
      return sessions.assign(batch)
    } catch (err) {
      log.error({ err, bytes: batch.length }, 'session assignment failed; the batch is buffered without session ids')
      return batch
    }
  }

  // Set by a failed append: pixels are then dropped before they are encoded and POSTs refused with 503, until
  // buffer.retry_after_seconds have passed (the next append tries again) or a flush has freed room.
  let writableAgain: NodeJS.Timeout | undefined
  function unwritable (): void {
    state.unwritable = true
    clearTimeout(writableAgain)
    writableAgain = setTimeout(() => { state.unwritable = false }, current.buffer.retryAfterSeconds * 1000)
    writableAgain.unref()
  }

  function commit (thread: Serving, id: number, handedOver: Buffer): void {
    const batch = withSessions(handedOver)
    const events = batch.readUInt32BE(4)
    buffer.append(batch).then(
      () => {
        if (state.unwritable) {
          state.unwritable = false
          log.info('the buffer writes again')
        }
        state.add('batchesBuffered')
        state.add('bytesBuffered', batch.length)
        state.add('eventsBuffered', events)
        state.set('bufferBytes', buffer.size)
        state.set('bufferBatches', buffer.batchCount)
        hooks.onBatch?.(events, batch.length)
        thread.post({ type: 'committed', id })
        flusher.kick()
      },
      (err: Error) => {
        state.add('batchesLost')
        state.add('eventsLost', events)
        unwritable()
        log.error({ code: errors.BUFFER_WRITE_FAILED.code, err, events, bytes: batch.length }, 'buffer append failed; this batch is lost, and new events are refused until the buffer writes again')
        thread.post({ type: 'committed', id, error: err.message })
      }
    )
  }

  // Every thread binds the same port with SO_REUSEPORT, which a port the kernel picks does not get:
  // so for server.port 0, a free port is found first.
  let current = config
  const port = config.server.port === 0 ? await freePort(config.server.host) : config.server.port
  const data = (index: number): ThreadData => ({ config: { ...config, server: { ...config.server, port } }, index, threads, sab: state.sab })
  const serving: Serving[] = threads === 1 ? [new MainThreadServer(data(0), commit)] : Array.from({ length: threads }, (_, index) => new ServingThread(data(index), commit, log))
  await Promise.all(serving.map(async t => await t.listening()))
  log.info({ host: config.server.host, port, threads }, 'listening')
  flusher.kick()

  return {
    port,
    threads,
    state,
    buffer,
    reload (next: Config) {
      const { applied, needRestart } = changedKeys(current, next)
      // Keys that need a restart keep their running values until then.
      const effective: Config = { ...next, dataDir: current.dataDir, server: { ...next.server, host: current.server.host, port, threads: current.server.threads, demo: current.server.demo }, admin: current.admin, hbase: current.hbase, flush: { ...next.flush, workers: current.flush.workers } }
      current = effective
      log.level = effective.log.level
      flusher.setConfig(effective)
      sessions.configure(sessionOptions(effective))
      for (const t of serving) t.post({ type: 'reload', config: effective })
      log.info({ applied }, 'config reloaded')
      if (needRestart.length > 0) log.warn({ keys: needRestart }, 'these keys change only at the next restart')
    },
    async replayDeadLetters () {
      const moved = await buffer.requeueDeadLetters()
      state.set('bufferBytes', buffer.size)
      state.set('bufferBatches', buffer.batchCount)
      log.info({ batches: moved }, 'dead letters moved back into the buffer')
      flusher.kick()
      return moved
    },
    async abort () {
      for (const t of serving) t.post({ type: 'abort' })
      await Promise.race([Promise.all(serving.map(async t => await t.stopped)), sleep(1000)])
      await Promise.all(serving.map(async t => await t.end()))
    },
    async close () {
      state.draining = true
      hooks.onDraining?.()
      await sleep(current.shutdown.drainSeconds * 1000)
      for (const t of serving) t.post({ type: 'close' })
      state.accepting = false
      for (const t of serving) t.post({ type: 'stop' })
      await Promise.all(serving.map(async t => await t.stopped))
      await flusher.stop(current.shutdown.timeoutSeconds * 1000)
      await Promise.all(serving.map(async t => await t.end()))
      await buffer.close()
      log.info({ left: buffer.batchCount }, 'stopped')
    }
  }
}
