// `spoor demo-data`: realistic synthetic traffic over the last D days, written through the collector's own encoder, sessions, buffer and flush.
//
// Why not over HTTP: the front door stamps every event with its time of receipt, which cannot be in the past, and
// demo data must span days. So this drives the pipeline one step behind HTTP: the same native Encoder, called as
// server.ts calls it for POST /e but with a simulated receive time and client address, the same Sessions.assign on
// each sealed batch, the same EventBuffer (a directory of its own, <data_dir>/demo-data, so a running collector's
// buffer is never touched) and the same Flusher to HBase. UA enrichment, bot flags and identity links are therefore
// written exactly as for live traffic. Events are generated in time order, which the session assignment needs.

import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isIP } from 'node:net'
import { Batcher } from '../pipeline/batcher'
import { EventBuffer } from '../pipeline/buffer'
import type { Config } from '../config'
import { Flusher } from '../pipeline/flush'
import type { Logger } from '../log'
import { BATCH_FULL, Encoder, encoderOptions, Sessions, sessionOptions } from '../native'
import { SharedState } from '../pipeline/shared-state'

export interface DemoDataOptions {
  /** Rows to write, retries included; at least 1. */
  events: number
  /** Days before `now` that the events span; at least 1. */
  days: number
  /** Seed of the generator: the same seed, events and days give the same events (their times relative to `now`). */
  seed: number
  /** End of the span, ms since the epoch. Default: the time of the call. */
  now?: number
  /** Called every `PROGRESS_EVERY` events encoded, and when every batch is acknowledged. */
  onProgress?: (encoded: number, delivered: number) => void
}

export interface DemoDataResult {
  /** Rows written: one per encode call. */
  events: number
  /** Of those, second copies of an earlier event (the same eid), as a client that retries sends. */
  retries: number
  /** Events with a crawler's user agent. */
  bots: number
  /** Distinct uids (devices and browsers) that sent events. */
  uids: number
  /** People with a login seen on two platforms. */
  loggedInOnTwoPlatforms: number
  from: number
  to: number
  days: number
  /** Batches written to the buffer and acknowledged by HBase. */
  batches: number
  /** From the first encode until the last batch was acknowledged. */
  seconds: number
}

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

/**
 * Buffered bytes at which generation waits for the flush: generation runs some 50 times faster than HBase takes
 * rows, and without a bound a large run would put everything on disk before the first row reached HBase.
 */
const HIGH_WATER_BYTES = 64 * 1024 * 1024
/** Encode calls between yields to the event loop, so LMDB commits and flush results are handled. */
const YIELD_EVERY = 2000
const PROGRESS_EVERY = 100_000

/** Where the demo pipeline's buffer lives: apart from the collector's `<data_dir>/buffer`. */
export function demoDataDir (config: Config): string {
  return join(config.dataDir, 'demo-data')
}

/** A small seeded generator (mulberry32): a float in [0, 1). The benchmarks' synthetic data uses it too. */
export function generator (seed: number): () => number {
  let a = seed | 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Public /24 ranges and the country the shipped DB-IP Lite database gives each (checked against that database:
 * 8.8.8.0 is US, 81.2.69.0 GB, and so on), with a share of visitors roughly like an English-language site's.
 */
const COUNTRIES: Array<{ prefix: string, weight: number }> = [
  { prefix: '8.8.8', weight: 30 }, // US
  { prefix: '49.36.10', weight: 12 }, // IN
  { prefix: '81.2.69', weight: 10 }, // GB
  { prefix: '85.214.10', weight: 10 }, // DE
  { prefix: '200.147.10', weight: 8 }, // BR
  { prefix: '90.10.10', weight: 7 }, // FR
  { prefix: '24.48.10', weight: 6 }, // CA
  { prefix: '133.11.10', weight: 6 }, // JP
  { prefix: '80.58.10', weight: 6 }, // ES
  { prefix: '151.30.10', weight: 6 }, // IT
  { prefix: '145.100.10', weight: 5 }, // NL
  { prefix: '1.1.1', weight: 4 } // AU
]

/** Platforms: two web sites and two apps, with each one's share of people and its clients' user agents. */
const PLATFORMS = [
  { name: 'web', host: 'www.example.com', weight: 50, agents: [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
    'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36'
  ] },
  { name: 'blog', host: 'blog.example.com', weight: 15, agents: [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15'
  ] },
  // What Android apps and the Snowplow Android tracker send (OkHttp's agent), and an iOS app through CFNetwork.
  { name: 'android', host: '', weight: 20, agents: ['okhttp/4.12.0'] },
  { name: 'ios', host: '', weight: 15, agents: ['Answers/3.2 CFNetwork/1410.0.3 Darwin/22.6.0'] }
]

const CRAWLER = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'

/** Channels and their items (questions): 12 items each. */
const CHANNELS = ['databases', 'networks', 'security', 'frontend', 'devops'].map(ch => ({ ch, items: Array.from({ length: 12 }, (_, i) => `${ch.slice(0, 2)}-q${i + 1}`) }))

/** Where a visit to a web site comes from; the empty host is a direct visit. */
const SOURCES = [
  { ref: '', weight: 35 },
  { ref: 'https://www.google.com/', weight: 35 },
  { ref: 'https://www.bing.com/', weight: 6 },
  { ref: 'https://news.ycombinator.com/', weight: 8 },
  { ref: 'https://t.co/', weight: 6 },
  { ref: 'https://www.reddit.com/', weight: 10 }
]
/** Campaigns some visits carry in their landing URL (utm_source, utm_medium, utm_campaign). */
const CAMPAIGNS = ['utm_source=newsletter&utm_medium=email&utm_campaign=weekly', 'utm_source=twitter&utm_medium=social&utm_campaign=launch']

/** Share of traffic in each UTC hour: low at night, peaks mid-morning and in the evening. */
const HOURLY = [2, 1.5, 1, 1, 1, 1.5, 3, 5, 7, 8, 8, 7.5, 7, 7, 7, 6.5, 6.5, 7, 7.5, 8, 7, 5.5, 4, 3]

/** Session gap: the collector's session timeout is 30 minutes; visits are shorter, so each is one session. */
const MAX_STEP_MS = 180_000

interface Device { uid: string, platform: typeof PLATFORMS[number], agent: string, ip: ArrayBuffer }
interface Person { devices: Device[], login?: string }

function pick<T extends { weight: number }> (list: T[], r: number): T {
  const total = list.reduce((s, x) => s + x.weight, 0)
  let at = r * total
  for (const x of list) {
    at -= x.weight
    if (at < 0) return x
  }
  return list[list.length - 1]
}

function address (text: string): ArrayBuffer {
  if (isIP(text) !== 4) throw new Error(`not an IPv4 address: ${text}`)
  return new Uint8Array(text.split('.').map(Number)).buffer
}

function hex (rand: () => number, length: number): string {
  let s = ''
  while (s.length < length) s += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0')
  return s.slice(0, length)
}

/** The people: about one per 12 events; 40% log in, and a third of those use a second platform under the same login. */
function population (count: number, rand: () => number): Person[] {
  const device = (platform: typeof PLATFORMS[number], ip: ArrayBuffer): Device =>
    ({ uid: hex(rand, 32), platform, agent: platform.agents[Math.floor(rand() * platform.agents.length)], ip })
  return Array.from({ length: count }, (_, i) => {
    const ip = address(`${pick(COUNTRIES, rand()).prefix}.${1 + Math.floor(rand() * 254)}`)
    const first = pick(PLATFORMS, rand())
    const login = rand() < 0.4 ? `user${i + 1}` : undefined
    const devices = [device(first, ip)]
    if (login !== undefined && rand() < 0.34) devices.push(device(pick(PLATFORMS.filter(p => p !== first), rand()), ip))
    return { devices, login }
  })
}

interface Sent { ts: number, body: string, agent: string, referer: string, ip: ArrayBuffer, retry: boolean, bot: boolean, uid: string, p: string, lid?: string }

/**
 * One visit's events from `start`: a few page views and actions on items of one channel, seconds to minutes apart.
 * Web visits land from a source (some with a campaign); app visits have neither URL nor referrer.
 */
function visit (person: Person, start: number, end: number, id: () => string, rand: () => number): Sent[] {
  const d = person.devices[Math.floor(rand() * person.devices.length)]
  const { ch, items } = CHANNELS[Math.floor(rand() * CHANNELS.length)]
  const length = 1 + Math.floor(-Math.log(1 - rand()) * 4)
  const web = d.platform.host !== ''
  let page = ''
  let ref = web ? pick(SOURCES, rand()).ref : ''
  const events: Sent[] = []
  let ts = start
  for (let i = 0; i < length && ts < end; i++) {
    const it = items[Math.floor(rand() * items.length)]
    const a = i === 0 || rand() < 0.5 ? 'page' : ['view', 'like', 'answer', 'vote'][Math.floor(rand() * 4)]
    const e: Record<string, string> = { uid: d.uid, eid: id(), p: d.platform.name, a, ch, it }
    if (web && a === 'page') {
      const campaign = i === 0 && ref !== '' && rand() < 0.15 ? `?${CAMPAIGNS[Math.floor(rand() * CAMPAIGNS.length)]}` : ''
      const url = `https://${d.platform.host}/${ch}/${it}${campaign}`
      e.url = url
      if (ref !== '') e.ref = ref
      ref = url
      page = url
    } else if (web) {
      e.url = page
    }
    // A login is sent on the first event of a visit and now and then after, as an app does once signed in.
    if (person.login !== undefined && (i === 0 || rand() < 0.3)) e.lid = person.login
    events.push({ ts, body: `[${JSON.stringify(e)}]`, agent: d.agent, referer: page, ip: d.ip, retry: false, bot: false, uid: d.uid, p: d.platform.name, lid: e.lid })
    ts += 5000 + Math.floor(rand() * MAX_STEP_MS)
  }
  return events
}

/** A crawler's visit: a few pages of one site, a second apart, from a US address, no cookie, no login. */
function crawl (start: number, end: number, id: () => string, rand: () => number): Sent[] {
  const uid = hex(rand, 32)
  const { ch, items } = CHANNELS[Math.floor(rand() * CHANNELS.length)]
  const events: Sent[] = []
  const ip = address(`8.8.8.${1 + Math.floor(rand() * 254)}`)
  for (let i = 0, ts = start; i < 5 && ts < end; i++, ts += 1000) {
    const url = `https://www.example.com/${ch}/${items[i % items.length]}`
    events.push({ ts, body: `[${JSON.stringify({ uid, eid: id(), p: 'web', a: 'page', url, ch, it: items[i % items.length] })}]`, agent: CRAWLER, referer: '', ip, retry: false, bot: true, uid, p: 'web' })
  }
  return events
}

/**
 * The events in time order, an hour at a time so that memory stays flat: each hour gets its share of `events` by
 * the daily rhythm, as visits starting in it; events of a visit that run past the hour wait for the next one.
 * About 2% of events are sent again 1 to 10 seconds later with the same eid, as a client retries after a timeout.
 */
function * events (opts: { events: number, from: number, to: number, seed: number }): Generator<Sent> {
  const rand = generator(opts.seed)
  const people = population(Math.max(10, Math.ceil(opts.events / 12)), rand)
  let n = 0
  const id = (): string => `demo-${opts.seed}-${(n++).toString(36)}`
  const hours: number[] = []
  for (let h = opts.from; h < opts.to; h += HOUR_MS) hours.push(h)
  const weights = hours.map(h => HOURLY[new Date(h).getUTCHours()] * Math.min(1, (opts.to - h) / HOUR_MS))
  const total = weights.reduce((s, w) => s + w, 0)
  let share = 0
  let made = 0
  let waiting: Sent[] = []
  for (let i = 0; i < hours.length; i++) {
    share += weights[i]
    const last = i === hours.length - 1
    const target = last ? opts.events : Math.round(opts.events * share / total)
    const start = hours[i]
    const end = Math.min(start + HOUR_MS, opts.to)
    const batch: Sent[] = []
    let attempts = 0
    while (made < target && attempts++ < 10 * opts.events) {
      const at = start + Math.floor(rand() * (end - start))
      // Skewed towards the first people: a few come back often, most rarely.
      const person = people[Math.floor(people.length * rand() * rand())]
      const made1 = rand() < 0.03 ? crawl(at, opts.to, id, rand) : visit(person, at, opts.to, id, rand)
      for (const e of made1) {
        if (made >= target) break
        batch.push(e)
        made++
        if (made < target && rand() < 0.02 && e.ts + 10_000 < opts.to) {
          batch.push({ ...e, ts: e.ts + 1000 + Math.floor(rand() * 9000), retry: true })
          made++
        }
      }
    }
    const all = [...waiting, ...batch].sort((x, y) => x.ts - y.ts)
    const cut = last ? all.length : all.findIndex(e => e.ts >= end)
    const ready = cut < 0 ? all : all.slice(0, cut)
    waiting = cut < 0 ? [] : all.slice(cut)
    yield * ready
  }
}

/** Checks the options as the CLI reads them; the message names the flag. */
export function checkDemoDataOptions (events: number, days: number, seed: number): void {
  if (!Number.isSafeInteger(events) || events < 1) throw new RangeError('--events must be a positive integer')
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError('--days must be a positive integer')
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError('--seed must be a non-negative integer')
}

/**
 * Generates the events and writes them through the encoder, sessions, buffer and flush; resolves once HBase has
 * acknowledged every batch. A batch HBase rejects for good is a dead letter in `<data_dir>/demo-data` and fails the run.
 */
export async function writeDemoData (config: Config, log: Logger, opts: DemoDataOptions): Promise<DemoDataResult> {
  checkDemoDataOptions(opts.events, opts.days, opts.seed)
  const to = opts.now ?? Date.now()
  const from = to - opts.days * DAY_MS
  const buffer = new EventBuffer(demoDataDir(config))
  const state = SharedState.create(0)
  let deadLettered = 0
  const flusher = new Flusher(buffer, config, state, log, outcome => { if (outcome === 'dead-lettered') deadLettered++ })
  const sessions = new Sessions(sessionOptions(config))
  const encoder = new Encoder(encoderOptions(config))
  let batches = 0
  const batcher = new Batcher(encoder, async batch => {
    await buffer.append(sessions.assign(batch))
    batches++
    flusher.kick()
  })
  const uidOut = Buffer.alloc(64)
  const uids = new Set<string>()
  const platformsOf = new Map<string, Set<string>>()
  let written = 0
  let retries = 0
  let bots = 0
  const started = process.hrtime.bigint()
  try {
    for (const e of events({ events: opts.events, from, to, seed: opts.seed })) {
      const r = encoder.events(Buffer.from(e.body), e.agent, e.referer, '', e.ip, e.ts, uidOut, false)
      if (r < 0) throw new Error(`the encoder refused a demo event (error ${r}): ${e.body}`)
      if ((r & BATCH_FULL) !== 0) batcher.seal()
      written++
      if (e.retry) retries++
      if (e.bot) bots++
      uids.add(e.uid)
      if (e.lid !== undefined) platformsOf.set(e.lid, (platformsOf.get(e.lid) ?? new Set()).add(e.p))
      if (written % PROGRESS_EVERY === 0) opts.onProgress?.(written, state.get('eventsDelivered'))
      if (written % YIELD_EVERY === 0) {
        batcher.seal()
        await sleep(0)
        while (buffer.size > HIGH_WATER_BYTES) await sleep(50)
        if (deadLettered > 0) break
      }
    }
    await batcher.stop()
    while ((buffer.batchCount > 0 || flusher.active > 0) && deadLettered === 0) await sleep(50)
    if (deadLettered > 0) throw new Error(`HBase rejected ${deadLettered} batch(es) for good; they are dead letters in ${demoDataDir(config)} (see \`spoor buffer\`)`)
    opts.onProgress?.(written, state.get('eventsDelivered'))
  } finally {
    await flusher.stop(config.shutdown.timeoutSeconds * 1000)
    await buffer.close()
  }
  return {
    events: written,
    retries,
    bots,
    uids: uids.size,
    loggedInOnTwoPlatforms: [...platformsOf.values()].filter(p => p.size >= 2).length,
    from,
    to,
    days: opts.days,
    batches,
    seconds: Number(process.hrtime.bigint() - started) / 1e9
  }
}
