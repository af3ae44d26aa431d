// Batch reports end to end: events sent through the real collector, the traffic job run on Spark over the real HBase, the stored report checked against plain counting.

import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { ensureSchema } from '../daemon/hbase/schema'
import { userAgent } from '../daemon/native'
import { CLI, flushed, freePort, startDaemon, tempDir, toml } from './fixtures/daemon'
import { client, countRows, freshTables, SALT_BUCKETS, ZK_PORT } from './fixtures/hbase'
import { canonicalUsers, random, REPORTS, reportsTable, sendInPhases, spoor } from './fixtures/reports'
import { trafficReference, type Delivery } from './reference/traffic'

const run = promisify(execFile)

const HUMAN_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15'
]
const BOT_AGENT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
const REFERRERS = [undefined, 'https://www.google.com/search?q=spoor', 'https://news.example/item?id=7', 'https://site.example/p/1', 'https://t.co/abc']

interface Sent { uid: string, eid: string, p?: string, sid: string, url: string, ref?: string, a: string, ua: string, lid?: string, vid?: string }

/** Each device's platform: users 0, 3, 6 and 9 are an Android app, user 11 names none, the rest and the crawler are the web. */
const platformOf = (uid: string): string | undefined => uid === 'user-11' ? undefined : ['user-0', 'user-3', 'user-6', 'user-9'].includes(uid) ? 'android' : 'web'

/**
 * Ids some users send now and then: user-0 and user-4 are one person (two browsers that log in as alice), user-1
 * is bob; user-7's browser is shared, carol before the window and dave after that, so it is dave's; user-5 and
 * user-6 share a visitor id, so they are one device group and, with no login, its smallest id.
 */
function otherIds (uid: string, phase: string): { lid?: string, vid?: string } {
  const login = uid === 'user-7' ? (phase === 'a' ? 'carol' : 'dave') : { 'user-0': 'alice', 'user-4': 'alice', 'user-1': 'bob' }[uid]
  return { ...(login !== undefined ? { lid: login } : {}), ...(uid === 'user-5' || uid === 'user-6' ? { vid: 'v-shared' } : {}) }
}

/** Events of one phase: users 0–11 on four browsers, and a crawler. */
function generate (phase: string, count: number, rand: (n: number) => number): Sent[] {
  return Array.from({ length: count }, (_, i): Sent => {
    const bot = rand(10) === 0
    const user = rand(12)
    const uid = bot ? 'crawler-1' : `user-${user}`
    // About one event in eight is a session of its own: a bounce unless it is retried into company.
    const sid = rand(8) === 0 ? `${uid}-solo-${phase}${i}` : `${uid}-s${rand(3)}`
    const query = rand(3) === 0 ? `?utm_source=x${rand(3)}` : ''
    const url = `https://site.example/p/${rand(8)}${query}${rand(10) === 0 ? '#top' : ''}`
    const ref = REFERRERS[rand(REFERRERS.length)]
    const a = rand(4) === 0 ? ['click', 'like'][rand(2)] : 'page'
    const ids = rand(3) === 0 ? otherIds(uid, phase) : {}
    const p = platformOf(uid)
    return { uid, eid: `ev-${phase}-${i}`, ...(p !== undefined ? { p } : {}), sid, url, ...(ref !== undefined ? { ref } : {}), a, ua: bot ? BOT_AGENT : HUMAN_AGENTS[user % HUMAN_AGENTS.length], ...ids }
  })
}

/** POSTs events in order, one request per run of one user agent, each answered after its buffer commit. */
async function send (url: string, events: Sent[]): Promise<void> {
  for (let i = 0; i < events.length;) {
    let j = i
    while (j < events.length && j - i < 25 && events[j].ua === events[i].ua) j++
    // d carries the test's own event name, so each stored copy can be told apart from the collector's id.
    const body = events.slice(i, j).map(({ ua, ...e }) => ({ ...e, d: e.eid }))
    const res = await fetch(`${url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': events[i].ua }, body: JSON.stringify(body) })
    if (res.status !== 204) throw new Error(`POST /e answered ${res.status}`)
    i = j
  }
}

t.test('hbase init makes the reports table: family r, one region, its own TTL', async t => {
  const hbase = await freshTables('reports_schema')
  const c = await client()
  t.teardown(async () => { await c.close() })
  const tables = { userTable: hbase.user_table as string, timeTable: hbase.time_table as string, saltBuckets: SALT_BUCKETS }
  const reports = `${tables.timeTable}_reports`
  t.match(await ensureSchema(c, { ...tables, reportsTable: reports, reportsTtlSeconds: 86400 }), { [reports]: 'created' })
  t.equal((await c.getAllRegionLocations(reports)).length, 1)
  t.match((await c.getTableDescriptor(reports)).columns?.find(f => f.name.toString() === 'r'), { maxVersions: 1, bloomnFilterType: 1, timeToLive: 86400 })
  t.match(await ensureSchema(c, { ...tables, reportsTable: reports, reportsTtlSeconds: 86400 }), { [reports]: 'unchanged' })
  await t.rejects(ensureSchema(c, { ...tables, reportsTable: '' }), new TypeError('options.reportsTable must be a non-empty string'))
  await t.rejects(ensureSchema(c, { ...tables, reportsTable: tables.timeTable }), new RangeError('options.reportsTable must differ from the other tables'))
  await t.rejects(ensureSchema(c, { ...tables, reportsTable: reports, reportsTtlSeconds: -1 }), new RangeError('options.reportsTtlSeconds must be an integer from 0 to 2147483647'))
})

t.test('the traffic report equals plain counting over the events sent, retries once, bots and the outside left out', async t => {
  const hbase: Record<string, unknown> = { ...await freshTables('reports'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const reports = await reportsTable('reports', hbase)
  const daemon = await startDaemon({ hbase: { ...hbase, reports_table: reports }, reports: REPORTS })
  t.teardown(async () => { await daemon.stop() })
  const rand = random(11)

  // Before the window, inside it (with 15 events sent a second time, as a tracker retries), and after it.
  const before = generate('a', 20, rand)
  const inside = generate('b', 160, rand)
  const retried = inside.filter((_, i) => i % 11 === 3)
  const after = generate('c', 20, rand)
  const { started, from, to } = await sendInPhases(async events => await send(daemon.url, events), { before, inside, retried, after })
  const health = await flushed(daemon)
  const sent = before.length + inside.length + retried.length + after.length
  t.same({ accepted: health.metrics.eventsAccepted, delivered: health.metrics.eventsDelivered }, { accepted: sent, delivered: sent }, 'every event sent is stored')
  t.ok(inside.some(e => e.ua === BOT_AGENT) && retried.length === 15, 'the data set has bots inside and retried events')

  // The receive time is the server's: read it back per event (by d, the test's own name for it), and give each send
  // of an event its copy in order. The reference dedupes by that name, not by the collector's id.
  const stored = (await run(process.execPath, [CLI, 'range', '--from', String(started - 1000), '--to', String(Date.now() + 1000), '--json', '--limit', '100000', '--config', daemon.configPath]))
    .stdout.trim().split('\n').map(l => JSON.parse(l) as { ts: number, d: string })
  const copies = new Map<string, number[]>()
  for (const row of stored) copies.set(row.d, [...(copies.get(row.d) ?? []), row.ts].sort((x, y) => x - y))
  // Visitors are canonical users, from every stored copy, in any phase: resolution happens when the report is read.
  const sends = [...before, ...inside, ...retried, ...after]
  const times = sends.map(e => copies.get(e.eid)?.[sends.filter(x => x.eid === e.eid).indexOf(e)] ?? 0)
  const person = canonicalUsers(sends.map((e, i) => ({ ...e, ts: times[i] })))
  t.same(['user-0', 'user-4', 'user-1', 'user-7', 'user-5', 'user-6'].map(u => person.get(u)), ['l:alice', 'l:alice', 'l:bob', 'l:dave', 'u:user-5', 'u:user-5'], 'the data set has each identity case')
  const deliveries: Delivery[] = [...before, ...inside, ...retried, ...after].map(e => {
    const id = e.eid
    const ts = copies.get(id)?.shift()
    if (ts === undefined) throw new Error(`no stored copy left for ${e.uid}/${e.eid} among ${stored.length} rows (${stored.slice(0, 3).map(r => JSON.stringify(r)).join(' ')})`)
    const agent = userAgent(e.ua)
    return { ts, id, uid: e.uid, p: e.p, visitor: person.get(e.uid) as string, sid: e.sid, url: e.url, ref: e.ref, a: e.a, br: agent.browser, os: agent.os, dt: agent.device, bot: agent.bot }
  })
  t.equal(stored.length, sent, 'a retried event is stored twice, with one id')
  t.ok(deliveries.filter(d => d.ts < from || d.ts >= to).length === before.length + after.length, 'the phases fall where the test put them')

  const args = ['traffic', '--from', String(from), '--to', String(to), '--config', daemon.configPath]
  const ran = await spoor(['report', 'run', ...args])
  t.equal(ran.code, 0, ran.stderr)
  t.match(ran.stderr, /traffic computed in [\d.]+ s and stored in /)
  const shown = await spoor(['report', 'show', ...args, '--json'])
  t.equal(shown.code, 0, shown.stderr)
  const report = JSON.parse(shown.stdout)
  const reference = trafficReference(deliveries, from, to, { top: 10, withBots: false })
  const { meta, ...sections } = report
  t.same(sections, reference, 'the stored report equals the reference')
  t.match(meta, { report: 'traffic', from, to, params: { top: 10, withBots: false }, step: 'hour', visitorsAre: 'canonical user' })
  const humansInside = new Set(inside.filter(e => e.ua !== BOT_AGENT).map(e => e.eid)).size
  t.equal(report.totals.events, humansInside, 'every human event inside the window once; retries, bots and the outside left out')
  t.ok(report.totals.visitors < new Set(inside.filter(e => e.ua !== BOT_AGENT).map(e => e.uid)).size, 'fewer visitors than uids: logins join browsers')
  t.ok(report.totals.bounces > 0 && report.totals.bounces < report.totals.sessions, 'some sessions bounce')
  t.ok(report.referrers.length > 1 && report.pages.length > 1)

  const again = await spoor(['report', 'run', ...args])
  t.equal(again.code, 0)
  t.match(again.stderr, /already stored .*--force recomputes it/, 'a stored window is not recomputed without --force')
  t.same(JSON.parse((await spoor(['report', 'show', ...args, '--json'])).stdout).meta.computedAt, meta.computedAt)

  const text = await spoor(['report', 'show', ...args])
  t.match(text.stdout, /^traffic {2}\[.*\) {2}top 10, bots excluded; computed /)
  t.match(text.stdout, new RegExp(`\\n\\s*${report.totals.visitors as number}\\s+${report.totals.sessions as number}\\s+${report.totals.pageViews as number}\\s+${report.totals.events as number}\\s+[\\d.]+%`))
  const csv = (await spoor(['report', 'show', ...args, '--csv'])).stdout.trim().split('\n')
  t.equal(csv[0], 'section,key,visitors,sessions,page_views,events,bounces,session_ms')
  t.equal(csv[1], `totals,,${Object.values(report.totals).join(',')}`)
  t.equal(csv.filter(l => l.startsWith('referrers,')).length, report.referrers.length)

  const bots = await spoor(['report', 'run', ...args, '--with-bots'])
  t.equal(bots.code, 0, bots.stderr)
  const withBots = JSON.parse((await spoor(['report', 'show', ...args, '--with-bots', '--json'])).stdout)
  const { meta: botsMeta, ...botSections } = withBots
  t.same(botSections, trafficReference(deliveries, from, to, { top: 10, withBots: true }), '--with-bots counts the crawler too')
  t.equal(botsMeta.params.withBots, true)
  t.ok(withBots.totals.events > report.totals.events)
  // One platform's events alone: alice's Android app (user-0) still counts as alice, the person she is on the web.
  const android = await spoor(['report', 'run', ...args, '--platform', 'android'])
  t.equal(android.code, 0, android.stderr)
  const onAndroid = JSON.parse((await spoor(['report', 'show', ...args, '--platform', 'android', '--json'])).stdout)
  const { meta: androidMeta, ...androidSections } = onAndroid
  t.same(androidSections, trafficReference(deliveries, from, to, { top: 10, withBots: false, platform: 'android' }), '--platform android counts its events alone')
  t.match(androidMeta.params, { top: 10, platform: 'android', withBots: false })
  t.equal(meta.params.platform, null, 'a report of every platform names none')
  t.ok(onAndroid.totals.events > 0 && onAndroid.totals.events < report.totals.events)
  t.match((await spoor(['report', 'show', ...args, '--platform', 'android'])).stdout, /^traffic {2}\[.*\) {2}top 10, platform android, bots excluded; computed /)
  // Two days or more: a row per UTC day. This window starts three days back, so it takes in the events before the
  // first one as well; --top 3 cuts the ranked sections.
  const long = ['traffic', '--from', String(from - 3 * 86400000), '--to', String(to), '--top', '3', '--config', daemon.configPath]
  const daily = await spoor(['report', 'run', ...long])
  t.equal(daily.code, 0, daily.stderr)
  const byDay = JSON.parse((await spoor(['report', 'show', ...long, '--json'])).stdout)
  const { meta: dayMeta, ...daySections } = byDay
  t.same(daySections, trafficReference(deliveries, from - 3 * 86400000, to, { top: 3, withBots: false }), 'a long window, by day, top 3')
  t.equal(dayMeta.step, 'day')
  t.ok(byDay.totals.events > report.totals.events && byDay.pages.length === 3)
  t.equal(await countRows(reports), 4, 'one row per window and parameters')
})

t.test('bad input: one line with a code, a non-zero exit and no report row', async t => {
  const hbase: Record<string, unknown> = { ...await freshTables('reports_bad'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const reports = await reportsTable('reports', hbase)
  const dir = tempDir('reports')
  const write = (name: string, h: Record<string, unknown>): string => {
    const path = `${dir}/${name}.toml`
    writeFileSync(path, toml({ hbase: h, reports: REPORTS }, { data_dir: `${dir}/data` }))
    return path
  }
  const config = write('ok', { ...hbase, reports_table: reports })
  const window = ['--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z']
  const oneLine = (t: Test, r: { code: number, stderr: string }, code: string): void => {
    t.equal(r.code, 1, `${code}: exit 1`)
    t.match(r.stderr, new RegExp(`^spoor: ${code}: [^\\n]+\\n$`), `${code}: one line`)
  }

  oneLine(t, await spoor(['report', 'run', 'nosuch', ...window, '--config', config]), 'SPOOR_E_REPORT_UNKNOWN')
  oneLine(t, await spoor(['report', 'run', 'traffic', '--from', '2026-11-02T00:00:00Z', '--to', '2026-11-02T00:00:00Z', '--config', config]), 'SPOOR_E_REPORT_WINDOW')
  oneLine(t, await spoor(['report', 'run', 'traffic', '--from', '2026-11-03T00:00:00Z', '--to', '2026-11-02T00:00:00Z', '--config', config]), 'SPOOR_E_REPORT_WINDOW')
  oneLine(t, await spoor(['report', 'show', 'traffic', ...window, '--config', config]), 'SPOOR_E_REPORT_NOT_FOUND')
  oneLine(t, await spoor(['report', 'run', 'traffic', ...window, '--config', write('nohbase', { ...hbase, port: await freePort() })]), 'SPOOR_E_HBASE_UNAVAILABLE')
  oneLine(t, await spoor(['report', 'run', 'traffic', ...window, '--config', write('notable', { ...hbase, reports_table: `${reports}_missing` })]), 'SPOOR_E_REPORTS_TABLE_MISSING')

  // The job itself fails: its time table does not exist. The job's own one-line reason is quoted.
  const missing = await spoor(['report', 'run', 'traffic', ...window, '--config', write('notime', { ...hbase, time_table: `${hbase.time_table as string}_missing`, reports_table: reports })])
  oneLine(t, missing, 'SPOOR_E_REPORT_FAILED')
  t.match(missing.stderr, /_missing.*\(log: /)

  // The job dies midway, after Spark has started reading: nothing is stored.
  const child = spawn(process.execPath, [CLI, 'report', 'run', 'traffic', ...window, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = once(child, 'exit')
  let java: number | undefined
  for (let i = 0; i < 200 && java === undefined && child.exitCode === null; i++) {
    await sleep(100)
    const children = readFileSync(`/proc/${child.pid!}/task/${child.pid!}/children`, 'utf8').trim()
    if (children !== '') java = Number(children.split(' ')[0])
  }
  if (java === undefined) throw new Error(`the CLI started no JVM: ${stderr}`)
  // The job logs when it starts reading the window (SpoorRows.window); it is killed then.
  const log = `${dir}/data/reports/traffic.log`
  for (let i = 0; i < 1200 && !(existsSync(log) && readFileSync(log, 'utf8').includes('reading the window')); i++) await sleep(100)
  t.match(readFileSync(log, 'utf8'), /reading the window of \S+: 4 scans/, 'the job has started reading')
  process.kill(java!, 'SIGKILL')
  const [code] = await exited as [number]
  oneLine(t, { code, stderr }, 'SPOOR_E_REPORT_FAILED')
  t.match(stderr, /killed by SIGKILL/)
  t.equal(await countRows(reports), 0, 'no report row is left behind')
  oneLine(t, await spoor(['report', 'show', 'traffic', ...window, '--config', config]), 'SPOOR_E_REPORT_NOT_FOUND')
})
