// `spoor recommend serve`: answers recommendations from the newest model generation, folds each new signal into its
// user's vector as it arrives from RabbitMQ, swaps in newer generations without a pause in answers, and starts users
// the model does not know from their tracking history or the popular items (docs/recommendations.md#serving).

import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import * as uws from 'uWebSockets.js'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import type { Config } from '../config'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { errors, SpoorError, type ErrorDef } from '../errors'
import { HBaseClient } from '../hbase/client'
import { signalsSince } from '../hbase/signals'
import { RateLimit, type Logger } from '../log'
import { loadRecommender, uidText, type Ranked, type Recommender } from '../native'
import { describe } from './amqp'
import { trackedItems } from './cold-start'
import { ERASURES_FILE, ErasureList } from './erasures'
import { SignalFeed } from './feed'
import { signalLimits, type Signal } from './signal'
import { checkMeta, generations, modelsDir, type PopularList } from './train'

/** n when a request does not say. */
const DEFAULT_N = 10

/** A generation being served: the native model, and what the routes need beside it. */
interface Serving {
  name: string
  /** When it was trained, ms: erasures after it are taken out of it. */
  trainedAt: number
  lastSignalTs: number | null
  trackWeight: number
  model: Recommender
  popular: PopularList[]
  /** The signals folded into `model` since it was loaded, by `user\0id`: each one once. */
  folded: Map<string, Signal>
}

/** The model's id of an application's user: their login, as training names it. */
export function modelUser (user: string): string {
  return `l:${uidText(user)}`
}

function signalKey (s: Signal): string {
  return `${uidText(s.user)}\0${s.id}`
}

/** The popular list for a channel and country: both, then the channel's, the country's, and last everyone's. */
export function popularFor (lists: PopularList[], channel: string | null, country: string | null): PopularList | undefined {
  const find = (ch: string | null, co: string | null): PopularList | undefined => lists.find(l => l.channel === ch && l.country === co)
  return (channel !== null && country !== null ? find(channel, country) : undefined) ??
    (channel !== null ? find(channel, null) : undefined) ??
    (country !== null ? find(null, country) : undefined) ??
    find(null, null)
}

class Metrics {
  readonly registry = new Registry()
  readonly requests = new Counter({ name: 'spoor_recommend_requests_total', help: 'Requests answered, by route and status', labelNames: ['route', 'status'] as const, registers: [this.registry] })
  readonly seconds = new Histogram({ name: 'spoor_recommend_request_seconds', help: 'Time to answer a request, by route', labelNames: ['route'] as const, buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [this.registry] })
  readonly answers = new Counter({ name: 'spoor_recommend_answers_total', help: 'Answers of /recommend, by the path that found them: model, tracking or popular', labelNames: ['path'] as const, registers: [this.registry] })
  readonly folded = new Counter({ name: 'spoor_recommend_signals_folded_total', help: 'Signals folded into a user vector as they arrived', registers: [this.registry] })
  readonly ignored = new Counter({ name: 'spoor_recommend_signals_ignored_total', help: 'Signals not folded in: invalid (the store consumer dead-letters them), an item the model does not know, one already folded, or one of a person erased since', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly swaps = new Counter({ name: 'spoor_recommend_generation_swaps_total', help: 'Model generations swapped in, the first included', registers: [this.registry] })
  readonly generation = new Gauge({ name: 'spoor_recommend_generation_info', help: 'The generation served (1 for its name)', labelNames: ['generation'] as const, registers: [this.registry] })
  readonly users = new Gauge({ name: 'spoor_recommend_model_users', help: 'Users of the served model, folded ones included', registers: [this.registry] })
  readonly items = new Gauge({ name: 'spoor_recommend_model_items', help: 'Items of the served model', registers: [this.registry] })
  readonly feed = new Gauge({ name: 'spoor_recommend_feed_connected', help: '1 while signals arrive from RabbitMQ', registers: [this.registry] })
}

export interface RecommendServer {
  port: number
  /** The generation served, if any. */
  generation: () => string | undefined
  close: () => Promise<void>
}

/** Starts the server: it listens at once, answers 503 until a generation is loaded, and feeds on signals. */
export async function startRecommendServer (config: Config, log: Logger): Promise<RecommendServer> {
  const r = config.recommend
  const metrics = new Metrics()
  const limits = signalLimits(config)
  let serving: Serving | undefined
  let hbase: Promise<HBaseClient> | undefined
  const failed = new Set<string>()
  const erasures = new ErasureList(join(modelsDir(config), ERASURES_FILE))
  const reloadLog = new RateLimit(60000)

  /** One connection to HBase, shared by every request, opened again once it has failed. */
  async function client (): Promise<HBaseClient> {
    const current = hbase
    if (current !== undefined) {
      const open = await current.catch(() => undefined)
      if (open?.isOpen === true) return open
      if (hbase !== current) return await client()
    }
    hbase = HBaseClient.connect({ host: config.hbase.host, port: config.hbase.port, connectTimeoutMs: 5000, requestTimeoutMs: config.flush.timeoutMs })
    return await hbase
  }

  /**
   * Folds a checked signal into `s`; a signal already folded, of an unknown item, or of a person erased after the
   * signal's time, changes nothing.
   */
  function fold (s: Serving, signal: Signal): void {
    const key = signalKey(signal)
    if (s.folded.has(key)) {
      metrics.ignored.inc({ reason: 'again' })
      return
    }
    const erasedAt = erasures.erased.get(modelUser(signal.user))
    if (erasedAt !== undefined && signal.ts <= erasedAt) {
      metrics.ignored.inc({ reason: 'erased' })
      return
    }
    if (!s.model.add(modelUser(signal.user), signal.item, r.weights[signal.kind] ?? 0)) {
      metrics.ignored.inc({ reason: 'unknown-item' })
      return
    }
    s.folded.set(key, signal)
    metrics.folded.inc()
  }

  /**
   * Builds generation `name`'s model: the files read asynchronously, the model built on a thread of libuv's pool, so
   * that answers go on meanwhile. One whose files are damaged or disagree throws SPOOR_E_MODEL_INVALID.
   */
  async function build (name: string): Promise<Serving> {
    const dir = join(modelsDir(config), name)
    try {
      const [meta, popular, items, itemFactors, users, userFactors, strengths] = await Promise.all(
        ['meta.json', 'popular.json', 'items.json', 'item-factors.f32', 'users.json', 'user-factors.f32', 'strengths.bin'].map(async f => await readFile(join(dir, f))))
      const m = checkMeta(dir, meta.toString('utf8'))
      const model = await loadRecommender({ rank: m.rank, regParam: m.regParam, alpha: m.alpha }, items, itemFactors, users, userFactors, strengths)
      return { name, trainedAt: Date.parse(m.trainedAt), lastSignalTs: m.lastSignalTs, trackWeight: m.trackWeight, model, popular: JSON.parse(popular.toString('utf8')) as PopularList[], folded: new Map() }
    } catch (err) {
      if (err instanceof SpoorError) throw err
      throw new SpoorError('MODEL_INVALID', `${dir}: ${(err as Error).message}`)
    }
  }

  /**
   * Builds the newest generation beside the one served, folds in the signals after its cut-off (those the old one
   * folded in, and those stored while no feed ran), and swaps it in. A damaged generation is not tried again; one
   * whose signals HBase cannot give yet is, at the next look.
   */
  let reloading: Promise<boolean> | undefined
  async function reload (): Promise<boolean> {
    // One look at a time; the next one starts once it has ended (a `.finally` runs after the assignment).
    reloading ??= look().finally(() => { reloading = undefined })
    return await reloading
  }

  /** Drops the vectors of the people erased since the last look from the generation served. */
  function applyErasures (): void {
    for (const note of erasures.poll()) {
      const s = serving
      if (s === undefined) continue
      const dropped = note.ids.filter(id => s.model.remove(id))
      for (const [key, signal] of s.folded) if (note.ids.includes(modelUser(signal.user))) s.folded.delete(key)
      log.info({ ids: note.ids, dropped, generation: s.name }, 'erased people dropped from the model served')
    }
  }

  async function look (): Promise<boolean> {
    applyErasures()
    const newest = generations(config).filter(g => !failed.has(g)).at(-1)
    if (newest === undefined || newest === serving?.name) return false
    let next: Serving
    const building = process.hrtime.bigint()
    let buildMs: number
    try {
      next = await build(newest)
      buildMs = Number(process.hrtime.bigint() - building) / 1e6
    } catch (err) {
      failed.add(newest)
      log.error({ generation: newest, err: (err as Error).message }, 'model generation cannot be served; the one before stays')
      return false
    }
    // People erased after it was trained are still in it.
    for (const [id, at] of erasures.erased) if (at >= next.trainedAt) next.model.remove(id)
    const after = next.lastSignalTs ?? 0
    try {
      for (const signal of await signalsSince(await client(), r.signalsTable, after)) if (Object.hasOwn(r.weights, signal.kind)) fold(next, signal)
    } catch (err) {
      const held = reloadLog.take()
      if (held >= 0) log.warn({ generation: newest, err: describe(err), held }, 'model generation not served yet: the signals after its cut-off cannot be read from HBase; trying again')
      return false
    }
    for (const signal of serving?.folded.values() ?? []) if (signal.ts > after) fold(next, signal)
    serving = next
    reloadLog.reset()
    metrics.swaps.inc()
    metrics.generation.reset()
    metrics.generation.set({ generation: newest }, 1)
    metrics.items.set(next.model.items)
    // buildMs: the files read and the native model built, off the event loop.
    log.info({ generation: newest, users: next.model.users, items: next.model.items, refolded: next.folded.size, lastSignalTs: next.lastSignalTs, buildMs: Math.round(buildMs * 10) / 10 }, 'model generation served')
    return true
  }

  // Signals as they arrive, each folded in at once.
  const feed = new SignalFeed(config, limits, log, {
    signal: signal => { if (serving !== undefined) fold(serving, signal) },
    invalid: () => metrics.ignored.inc({ reason: 'invalid' }),
    connected: async () => {
      // What was published while no queue of this server was bound is in HBase by now, or will be folded in with
      // the next generation.
      const s = serving
      if (s === undefined) return
      for (const signal of await signalsSince(await client(), r.signalsTable, s.lastSignalTs ?? 0)) if (Object.hasOwn(r.weights, signal.kind)) fold(s, signal)
    }
  })

  await reload()
  const timer = setInterval(() => { void reload() }, r.reloadMs)
  timer.unref()

  const route = (name: string, handler: (asked: Asked, s: Serving) => unknown) => (res: HttpResponse, req: HttpRequest): void => {
    const started = process.hrtime.bigint()
    let aborted = false
    res.onAborted(() => { aborted = true })
    // The request object is valid only until this function returns: what the handler needs is read now.
    const asked: Asked = { params: [req.getParameter(0) ?? '', req.getParameter(1) ?? ''], query: new URLSearchParams(req.getQuery() ?? '') }
    const answer = (status: number, body: unknown): void => {
      metrics.requests.inc({ route: name, status })
      metrics.seconds.observe({ route: name }, Number(process.hrtime.bigint() - started) / 1e9)
      if (aborted) return
      res.cork(() => {
        res.writeStatus(STATUS[status]).writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store').end(JSON.stringify(body))
      })
    }
    const refuse = (err: unknown): void => {
      if (err instanceof Refusal) {
        answer(err.def.status, { error: { code: err.def.code, message: `${err.def.message}: ${err.detail}` } })
        return
      }
      log.error({ err: describe(err), route: name }, 'a recommendation request failed')
      answer(500, { error: { code: errors.RECOMMEND_FAILED.code, message: `${errors.RECOMMEND_FAILED.message}: ${describe(err)}` } })
    }
    const s = serving
    if (s === undefined) {
      refuse(new Refusal(errors.RECOMMEND_NOT_READY, `no generation in ${modelsDir(config)} yet; train one with \`spoor recommend train\``))
      return
    }
    try {
      const body = handler(asked, s)
      if (body instanceof Promise) body.then(b => answer(200, b), refuse)
      else answer(200, body)
    } catch (err) {
      refuse(err)
    }
  }

  const ids = { maxBytes: r.maxIdBytes, maxN: r.maxResults }
  const app = uws.App()
  app.get('/recommend/:user', route('recommend', async (asked, s) => {
    const user = idParam(asked, 0, 'user', ids)
    const n = nParam(asked, DEFAULT_N, ids)
    const channel = keyParam(asked, 'channel', ids)
    const country = keyParam(asked, 'country', ids)
    const id = modelUser(user)
    const known = s.model.recommend(id, n)
    if (known !== null) {
      metrics.answers.inc({ path: 'model' })
      return { user, path: 'model', generation: s.name, items: listed(known) }
    }
    let degraded: string | undefined
    if (r.coldStartEvents > 0) {
      try {
        const tracked = await trackedItems(await client(), { userTable: config.hbase.userTable, identityTable: config.hbase.identityTable, saltBuckets: config.hbase.saltBuckets, maxEvents: r.coldStartEvents }, id)
        const weight = s.trackWeight > 0 ? s.trackWeight : 1
        const folded = tracked.items.length === 0 ? null : s.model.recommendFor(tracked.items, tracked.events.map(e => e * weight), n)
        if (folded !== null) {
          metrics.answers.inc({ path: 'tracking' })
          return { user, path: 'tracking', generation: s.name, tracked: { items: tracked.items.length, events: tracked.events.reduce((a, b) => a + b, 0), uids: tracked.uids.length }, items: listed(folded) }
        }
      } catch (err) {
        degraded = `the cold start from tracking failed: ${describe(err)}`
        log.warn({ user, err: describe(err) }, 'cold start from tracking failed; answering the popular items')
      }
    }
    const list = popularFor(s.popular, channel, country)
    metrics.answers.inc({ path: 'popular' })
    const items = (list?.items ?? []).slice(0, n).map((item, i) => ({ item, score: list?.people[i] ?? 0 }))
    return { user, path: 'popular', generation: s.name, popular: { channel: list?.channel ?? null, country: list?.country ?? null }, ...(degraded !== undefined ? { degraded } : {}), items }
  }))
  app.get('/similar/:item', route('similar', (asked, s) => {
    const item = idParam(asked, 0, 'item', ids)
    const n = nParam(asked, DEFAULT_N, ids)
    const similar = s.model.similar(item, n)
    if (similar === null) throw new Refusal(errors.RECOMMEND_UNKNOWN_ITEM, `${JSON.stringify(item)} is not in generation ${s.name}`)
    return { item, generation: s.name, items: listed(similar) }
  }))
  app.get('/because/:user/:item', route('because', (asked, s) => {
    const user = idParam(asked, 0, 'user', ids)
    const item = idParam(asked, 1, 'item', ids)
    const n = nParam(asked, BECAUSE_N, ids)
    if (!s.model.hasUser(modelUser(user))) throw new Refusal(errors.RECOMMEND_UNKNOWN_USER, `${JSON.stringify(user)} has no vector in generation ${s.name}`)
    const because = s.model.because(modelUser(user), item, n)
    if (because === null) throw new Refusal(errors.RECOMMEND_UNKNOWN_ITEM, `${JSON.stringify(item)} is not in generation ${s.name}`)
    return { user, item, generation: s.name, items: listed(because) }
  }))
  app.get('/ready', res => {
    const s = serving
    const body = s === undefined
      ? { ready: false, generation: null, feed: feed.connected }
      : { ready: true, generation: s.name, users: s.model.users, items: s.model.items, folded: s.folded.size, feed: feed.connected }
    res.cork(() => res.writeStatus(s === undefined ? '503 Service Unavailable' : '200 OK').writeHeader('Content-Type', 'application/json').end(JSON.stringify(body)))
  })
  app.get('/metrics', res => {
    let aborted = false
    res.onAborted(() => { aborted = true })
    if (serving !== undefined) metrics.users.set(serving.model.users)
    metrics.feed.set(feed.connected ? 1 : 0)
    void metrics.registry.metrics().then(text => {
      if (!aborted) res.cork(() => res.writeHeader('Content-Type', metrics.registry.contentType).end(text))
    })
  })
  app.any('/*', res => {
    const def = errors.NOT_FOUND
    res.cork(() => res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json')
      .end(JSON.stringify({ error: { code: def.code, message: `${def.message}: spoor recommend serve answers GET /recommend/USER, /similar/ITEM, /because/USER/ITEM, /ready and /metrics` } })))
  })

  const token = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(r.serveHost, r.servePort, t => { if (t === false) reject(new Error(`cannot listen on ${r.serveHost}:${r.servePort}`)); else resolve(t) })
  })
  const port = uws.us_socket_local_port(token)
  log.info({ host: r.serveHost, port, generation: serving?.name ?? null }, 'recommendations served')
  feed.start()

  return {
    port,
    generation: () => serving?.name,
    close: async () => {
      clearInterval(timer)
      uws.us_listen_socket_close(token)
      ;(app as TemplatedApp & { close: () => void }).close()
      await feed.stop()
      await (await hbase?.catch(() => undefined))?.close()
    }
  }
}

/** What a route reads from its request before the request object is gone. */
interface Asked {
  params: string[]
  query: URLSearchParams
}

/** An answer other than 200, with its code. */
class Refusal extends Error {
  constructor (readonly def: ErrorDef, readonly detail: string) {
    super(detail)
  }
}

interface IdLimits {
  maxBytes: number
  maxN: number
}

const CONTROL = /[\u0000-\u001f\u007f]/

/** A user or item id from the path, percent-decoded: not empty, at most recommend.max_id_bytes, no control character. */
function idParam (asked: Asked, index: number, what: string, limits: IdLimits): string {
  let id: string
  try {
    id = decodeURIComponent(asked.params[index])
  } catch {
    throw new Refusal(errors.RECOMMEND_BAD_ID, `the ${what} in the path is not valid percent-encoded UTF-8`)
  }
  checkId(id, what, limits)
  return id
}

function checkId (id: string, what: string, limits: IdLimits): void {
  if (id === '') throw new Refusal(errors.RECOMMEND_BAD_ID, `the ${what} is empty`)
  const bytes = Buffer.byteLength(id, 'utf8')
  if (bytes > limits.maxBytes) throw new Refusal(errors.RECOMMEND_BAD_ID, `the ${what} has ${bytes} bytes, more than recommend.max_id_bytes (${limits.maxBytes})`)
  if (CONTROL.test(id)) throw new Refusal(errors.RECOMMEND_BAD_ID, `the ${what} holds a control character`)
}

/** `?n=`: an integer from 1 to recommend.max_results; `fallback` when absent. */
function nParam (asked: Asked, fallback: number, limits: IdLimits): number {
  const text = asked.query.get('n')
  if (text === null) return Math.min(fallback, limits.maxN)
  const n = /^[0-9]{1,7}$/.test(text) ? Number(text) : NaN
  if (!(n >= 1 && n <= limits.maxN)) throw new Refusal(errors.RECOMMEND_BAD_N, `n=${JSON.stringify(text).slice(0, 40)}; it must be an integer from 1 to ${limits.maxN}`)
  return n
}

/** `?channel=` or `?country=`: absent or empty is null. */
function keyParam (asked: Asked, name: string, limits: IdLimits): string | null {
  const value = asked.query.get(name)
  if (value === null || value === '') return null
  checkId(value, name, limits)
  return value
}

/** n of /because when a request does not say. */
const BECAUSE_N = 3

const STATUS: Record<number, string> = { 200: '200 OK', 400: '400 Bad Request', 404: '404 Not Found', 500: '500 Internal Server Error', 503: '503 Service Unavailable' }

function listed (r: Ranked): Array<{ item: string, score: number }> {
  return r.items.map((item, i) => ({ item, score: Math.round(r.scores[i] * 1e6) / 1e6 }))
}
