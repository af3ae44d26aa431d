// The platforms and channel reports end to end: people on web and apps sent through the real collector, the jobs run on
// Spark over the real HBase, the stored reports checked against plain counting.

import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { CLI, flushed, startDaemon } from './fixtures/daemon'
import { countRows, freshTables, ZK_PORT } from './fixtures/hbase'
import { canonicalUsers, random, REPORTS, reportsTable, sendInPhases, spoor } from './fixtures/reports'
import { channelReference, type ChannelDelivery } from './reference/channel'
import { platformsReference, type PlatformDelivery } from './reference/platforms'

const run = promisify(execFile)

const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
/** What the Snowplow Android tracker and most Android apps send: OkHttp's own agent. */
const ANDROID = 'okhttp/4.12.0'
const IOS = 'Shop/1.0 CFNetwork/1410.0.3 Darwin/22.6.0'
const CRAWLER = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'

/** Public addresses GeoIP places in different countries (two of them checked in test/privacy.test.ts). */
const ADDRESSES = ['8.8.8.8', '2001:67c:2e8:22::c100:68b', '81.2.69.142']

interface Device { uid: string, p?: string, ua: string, login?: string, ip: string }

/**
 * alice on the web and Android, one login; carol on Android and iOS; dave on two browsers and iOS, all logged in;
 * bob on the web, eve on iOS and frank on Android, never logged in; a page without a platform; a crawler.
 */
const DEVICES: Device[] = [
  { uid: 'w-alice', p: 'web', ua: BROWSER, login: 'alice', ip: ADDRESSES[0] },
  { uid: 'a-alice', p: 'android', ua: ANDROID, login: 'alice', ip: ADDRESSES[1] },
  { uid: 'w-bob', p: 'web', ua: BROWSER, ip: ADDRESSES[2] },
  { uid: 'a-carol', p: 'android', ua: ANDROID, login: 'carol', ip: ADDRESSES[1] },
  { uid: 'i-carol', p: 'ios', ua: IOS, login: 'carol', ip: ADDRESSES[0] },
  { uid: 'w-dave1', p: 'web', ua: BROWSER, login: 'dave', ip: ADDRESSES[2] },
  { uid: 'w-dave2', p: 'web', ua: BROWSER, login: 'dave', ip: ADDRESSES[2] },
  { uid: 'i-dave', p: 'ios', ua: IOS, login: 'dave', ip: ADDRESSES[0] },
  { uid: 'i-eve', p: 'ios', ua: IOS, ip: ADDRESSES[1] },
  { uid: 'a-frank', p: 'android', ua: ANDROID, ip: ADDRESSES[0] },
  { uid: 'w-nop', ua: BROWSER, ip: ADDRESSES[1] },
  { uid: 'crawler-1', p: 'web', ua: CRAWLER, ip: ADDRESSES[0] }
]
const CHANNELS: Record<string, string[]> = { databases: ['q1', 'q2', 'q3'], networks: ['q7', 'q8'] }

interface Sent { device: Device, eid: string, a: string, it?: string, ch?: string, lid?: string }

function generate (phase: string, count: number, rand: (n: number) => number): Sent[] {
  return Array.from({ length: count }, (_, i): Sent => {
    const device = DEVICES[rand(DEVICES.length)]
    const channel = rand(5) === 0 ? undefined : Object.keys(CHANNELS)[rand(2)]
    const item = channel === undefined || rand(6) === 0 ? undefined : CHANNELS[channel][rand(CHANNELS[channel].length)]
    const a = ['page', 'view', 'view', 'like', 'answer'][rand(5)]
    // Every device that logs in says so on its first event of a phase and now and then after.
    const lid = device.login !== undefined && (i < DEVICES.length || rand(3) === 0) ? device.login : undefined
    return { device, eid: `ev-${phase}-${i}`, a, ...(item !== undefined ? { it: item } : {}), ...(channel !== undefined ? { ch: channel } : {}), ...(lid !== undefined ? { lid } : {}) }
  })
}

/** POSTs events in order, one request per run of one device, from the device's address through a trusted proxy. */
async function send (url: string, events: Sent[]): Promise<void> {
  for (let i = 0; i < events.length;) {
    let j = i
    while (j < events.length && j - i < 25 && events[j].device === events[i].device) j++
    const d = events[i].device
    const body = events.slice(i, j).map(({ device, ...e }) => ({ uid: device.uid, ...(device.p !== undefined ? { p: device.p } : {}), ...e, d: e.eid }))
    const res = await fetch(`${url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': d.ua, 'x-forwarded-for': d.ip }, body: JSON.stringify(body) })
    if (res.status !== 204) throw new Error(`POST /e answered ${res.status}`)
    i = j
  }
}

t.test('the platforms and channel reports equal plain counting: people across platforms, items by country', async t => {
  const hbase: Record<string, unknown> = { ...await freshTables('reports_pc'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const reports = await reportsTable('reports', hbase)
  const daemon = await startDaemon({ hbase: { ...hbase, reports_table: reports }, reports: REPORTS, server: { trusted_proxies: ['127.0.0.1'] } })
  t.teardown(async () => { await daemon.stop() })
  const rand = random(7)

  // Before the window, inside it (with every ninth event sent again, as a tracker retries), and after it.
  const before = generate('a', 30, rand)
  const inside = generate('b', 200, rand)
  const retried = inside.filter((_, i) => i % 9 === 4)
  const after = generate('c', 30, rand)
  const { started, from, to } = await sendInPhases(async events => await send(daemon.url, events), { before, inside, retried, after })
  const sends = [...before, ...inside, ...retried, ...after]
  const health = await flushed(daemon)
  t.same({ accepted: health.metrics.eventsAccepted, delivered: health.metrics.eventsDelivered }, { accepted: sends.length, delivered: sends.length }, 'every event sent is stored')

  // The receive time and the country are the server's: read them back per event, by d, the test's own name for it.
  const stored = (await run(process.execPath, [CLI, 'range', '--from', String(started - 1000), '--to', String(Date.now() + 1000), '--json', '--limit', '100000', '--config', daemon.configPath]))
    .stdout.trim().split('\n').map(l => JSON.parse(l) as { ts: number, d: string, co?: string })
  t.equal(stored.length, sends.length, 'a retried event is stored twice')
  const copies = new Map<string, Array<{ ts: number, co?: string }>>()
  for (const row of stored) copies.set(row.d, [...(copies.get(row.d) ?? []), row].sort((x, y) => x.ts - y.ts))
  t.ok(new Set(stored.map(r => r.co)).size >= 2, 'GeoIP places the addresses in more than one country')
  const deliveries = sends.map(e => {
    const copy = copies.get(e.eid)?.shift()
    if (copy === undefined) throw new Error(`no stored copy left for ${e.eid}`)
    return { ...e, ts: copy.ts, co: copy.co }
  })
  const person = canonicalUsers(deliveries.map(e => ({ ts: e.ts, uid: e.device.uid, lid: e.lid })))
  t.same(['w-alice', 'a-alice', 'a-carol', 'i-carol', 'w-dave1', 'w-dave2', 'i-dave', 'w-bob'].map(u => person.get(u)),
    ['l:alice', 'l:alice', 'l:carol', 'l:carol', 'l:dave', 'l:dave', 'l:dave', 'u:w-bob'], 'logins join each person\'s devices')
  const base = (e: typeof deliveries[number]): { ts: number, id: string, person: string, bot: boolean } =>
    ({ ts: e.ts, id: e.eid, person: person.get(e.device.uid) as string, bot: e.device.ua === CRAWLER })
  const onPlatforms: PlatformDelivery[] = deliveries.map(e => ({ ...base(e), p: e.device.p }))
  const inChannels: ChannelDelivery[] = deliveries.map(e => ({ ...base(e), a: e.a, it: e.it, ch: e.ch, co: e.co }))

  const window = ['--from', String(from), '--to', String(to), '--config', daemon.configPath]
  const show = async (args: string[]): Promise<Record<string, any>> => {
    const r = await spoor(['report', 'show', ...args, ...window, '--json'])
    t.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout)
  }
  const compute = async (args: string[]): Promise<Record<string, any>> => {
    const r = await spoor(['report', 'run', ...args, ...window])
    t.equal(r.code, 0, r.stderr)
    return await show(args)
  }

  const platforms = await compute(['platforms'])
  const { meta: pMeta, ...pSections } = platforms
  t.same(pSections, platformsReference(onPlatforms, from, to, { platforms: [], withBots: false }), 'platforms equals the reference')
  t.match(pMeta, { report: 'platforms', from, to, params: { platforms: [], withBots: false } })
  t.same(platforms.platforms.map((p: { platform: string }) => p.platform).sort(), ['android', 'ios', 'web'], 'the crawler and the event without a platform add none')
  const pair = (a: string, b: string): number => platforms.pairs.find((p: { a: string, b: string }) => (p.a === a && p.b === b) || (p.a === b && p.b === a)).users
  t.ok(pair('web', 'android') >= 1 && pair('android', 'ios') >= 1 && pair('web', 'ios') >= 1, 'a person on two platforms under two uids and a login counts on both')
  t.ok(platforms.platforms.find((p: { platform: string }) => p.platform === 'web').users <= 4, 'dave\'s two browsers are one person, and the crawler is none')

  t.match(pMeta.identityRead, /^by id \(\d+ ids\)$/, 'a window of a few ids reads the identity table by id')
  // The same report with the identity table read whole (reports.identity_ids_max = 0) has the same people.
  const wholeConfig = daemon.configPath.replace(/\.toml$/, '-whole.toml')
  writeFileSync(wholeConfig, readFileSync(daemon.configPath, 'utf8').replace('[reports]\n', '[reports]\nidentity_ids_max = 0\n'))
  const whole = await spoor(['report', 'run', 'platforms', '--force', ...window.slice(0, 4), '--config', wholeConfig])
  t.equal(whole.code, 0, whole.stderr)
  const wholeReport = JSON.parse((await spoor(['report', 'show', 'platforms', ...window.slice(0, 4), '--config', wholeConfig, '--json'])).stdout)
  t.equal(wholeReport.meta.identityRead, 'whole')
  t.same((({ meta, ...rest }) => rest)(wholeReport), pSections, 'reading the identity table whole gives the same people')

  const narrowed = await compute(['platforms', '--platforms', 'web,android'])
  t.same((({ meta, ...rest }) => rest)(narrowed), platformsReference(onPlatforms, from, to, { platforms: ['web', 'android'], withBots: false }), '--platforms narrows it')
  t.same(narrowed.all.platforms.slice().sort(), ['android', 'web'])

  const channels = await compute(['channel'])
  const { meta: cMeta, ...cSections } = channels
  t.same(cSections, channelReference(inChannels, from, to, { withBots: false }), 'channel (every channel) equals the reference')
  t.match(cMeta, { report: 'channel', params: { channel: null, withBots: false } })
  const events = channels.countries.map((c: { events: number }) => c.events)
  t.same(events, [...events].sort((x: number, y: number) => y - x), 'countries are ordered by traffic')

  const databases = await compute(['channel', '--channel', 'databases'])
  t.same((({ meta, ...rest }) => rest)(databases), channelReference(inChannels, from, to, { channel: 'databases', withBots: false }), '--channel databases equals the reference')
  t.same(databases.channels.map((c: { channel: string }) => c.channel), ['databases'])
  t.ok(databases.items.every((i: { item: string }) => CHANNELS.databases.includes(i.item)), 'only the channel\'s items')

  const withBots = await compute(['channel', '--channel', 'databases', '--with-bots'])
  t.same((({ meta, ...rest }) => rest)(withBots), channelReference(inChannels, from, to, { channel: 'databases', withBots: true }), '--with-bots counts the crawler too')
  t.equal(await countRows(reports), 5, 'one row per report, window and parameters')

  const text = await spoor(['report', 'show', 'platforms', ...window])
  t.match(text.stdout, /^platforms {2}\[.*\) {2}every platform, bots excluded; computed /)
  t.match(text.stdout, /people on both \(row and column\):/)
  t.match(text.stdout, /people on all of [a-z, ]+: \d+/)
  const csv = (await spoor(['report', 'show', 'channel', '--channel', 'databases', ...window, '--csv'])).stdout.trim().split('\n')
  t.equal(csv[0], 'section,country,channel,item,page_views,events,users,actions')
  t.equal(csv.filter(l => l.startsWith('items,')).length, databases.items.length)
})

t.test('bad parameters of the platforms, channel and traffic reports: one line with a code, exit 1', async t => {
  for (const args of [['platforms', '--platforms', 'web,,ios'], ['channel', '--channel', ''], ['traffic', '--platform', '']]) {
    const r = await spoor(['report', 'run', ...args, '--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z'])
    t.equal(r.code, 1)
    t.match(r.stderr, /^spoor: SPOOR_E_USAGE: [^\n]+\n$/)
  }
})
