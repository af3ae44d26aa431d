// `spoor demo-data`: synthetic traffic over several days written through the real pipeline into the real HBase, read back; and its bad input.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir, toml } from './fixtures/daemon'
import { client, freshTables, ZK_PORT } from './fixtures/hbase'
import { spoor } from './fixtures/reports'

const DAY_MS = 86_400_000

interface Stored { ts: number, id: string, uid: string, p?: string, co?: string, lid?: string, bot?: string, ua?: string, url?: string, ref?: string, sid?: string }

t.test('demo-data writes 3 days of web and app traffic: countries, logins on two platforms, a crawler flagged, retries', async t => {
  const hbase: Record<string, unknown> = { ...await freshTables('demo_data'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const dataDir = tempDir('demo-data')
  const config = join(dataDir, 'spoor.toml')
  writeFileSync(config, toml({ hbase }, { data_dir: dataDir }))

  const before = Date.now()
  const run = await spoor(['demo-data', '--events', '3000', '--days', '3', '--seed', '7', '--config', config])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /^wrote 3000 events \(\d+ retries of an earlier event, \d+ from a crawler\) from \d+ uids over 3 days,/, 'it says what it wrote')
  t.match(run.stdout, /batches acknowledged by HBase .* in [\d.]+ s, \d+ events\/s/, 'and that HBase acknowledged it, with the time taken')

  // Read back whole rather than through `spoor range`, whose merge of the bucket scans returned only some of the rows
  // of a multi-day window here.
  const c = await client()
  const results = await c.getScannerResults(hbase.time_table as string, {}, 10_000).finally(async () => await c.close())
  const rows = results.map(r => Object.fromEntries([
    ['ts', Math.max(...r.columnValues.map(v => v.timestamp?.toNumber(true) ?? 0))],
    ...r.columnValues.map(v => [v.qualifier.toString(), v.value.toString()])
  ]) as Stored)
  t.ok(rows.every(r => r.ts >= before - 3 * DAY_MS && r.ts <= before + 60_000), 'every event is within the 3 days before the run')
  t.equal(rows.length, 3000, 'every event is stored in the by-time table')

  const days = new Set(rows.map(r => new Date(r.ts).toISOString().slice(0, 10)))
  t.ok(days.size >= 3, `the events span at least 3 UTC days (${[...days].sort().join(', ')})`)
  const span = Math.max(...rows.map(r => r.ts)) - Math.min(...rows.map(r => r.ts))
  t.ok(span > 2.5 * DAY_MS && span <= 3 * DAY_MS, 'they cover about the 3 days asked for, none in the future')
  t.same([...new Set(rows.map(r => r.p))].sort(), ['android', 'blog', 'ios', 'web'], 'web sites and apps')
  const countries = new Set(rows.map(r => r.co).filter(c => c !== undefined))
  t.ok(countries.size >= 8, `GeoIP places the addresses in many countries (${[...countries].sort().join(', ')})`)
  t.ok(rows.some(r => r.ref?.startsWith('https://www.google.com/') === true), 'page views carry external referrers')
  t.ok(rows.some(r => r.url?.includes('utm_campaign=') === true), 'some landing pages carry a campaign')
  t.ok(rows.every(r => r.sid !== undefined), 'every event has a session id')

  const platformsOf = new Map<string, Set<string>>()
  for (const r of rows) if (r.lid !== undefined && r.p !== undefined) platformsOf.set(r.lid, (platformsOf.get(r.lid) ?? new Set()).add(r.p))
  const twoPlatforms = [...platformsOf].filter(([, p]) => p.size >= 2).map(([lid]) => lid)
  t.ok(twoPlatforms.length >= 3, `some people log in on two platforms (${twoPlatforms.length})`)
  const identity = await spoor(['identity', `l:${twoPlatforms[0]}`, '--json', '--config', config])
  t.equal(identity.code, 0, identity.stderr)
  const linked = (JSON.parse(identity.stdout) as { ids: string[] }).ids.filter(id => id.startsWith('u:'))
  t.ok(linked.length >= 2, 'the flush linked the login to both devices\' uids')

  const crawler = rows.filter(r => r.ua?.includes('Googlebot') === true)
  t.ok(crawler.length > 0 && crawler.every(r => r.bot === '1'), 'the crawler\'s events are flagged as bots')
  t.ok(rows.filter(r => r.p === 'android' || r.p === 'ios').every(r => r.bot !== '1'), 'the apps\' agents are not')

  const copies = new Map<string, number>()
  for (const r of rows) copies.set(r.id, (copies.get(r.id) ?? 0) + 1)
  t.ok([...copies.values()].some(n => n === 2), 'some events were sent twice with the same eid, as a retry')

  const again = await spoor(['demo-data', '--events', '3000', '--days', '3', '--seed', '7', '--config', config])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.stdout.split('\n')[0], run.stdout.split('\n')[0], 'the same seed gives the same events')
})

t.test('demo-data refuses bad input with one usage line and exit 1', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['--events', '0', '--days', '3'], /--events must be a positive integer, not "0"/],
    [['--events', '100', '--days', '0'], /--days must be a positive integer, not "0"/],
    [['--events', 'many', '--days', '3'], /--events must be a positive integer, not "many"/],
    [['--events', '100', '--days', '2.5'], /--days must be a positive integer, not "2.5"/],
    [['--events', '100', '--days', '3', '--seed=-1'], /--seed must be a non-negative integer, not "-1"/],
    [['--days', '3'], /demo-data needs --events/]
  ]
  for (const [args, message] of cases) {
    const r = await spoor(['demo-data', ...args])
    t.equal(r.code, 1, args.join(' '))
    t.match(r.stderr, /^spoor: SPOOR_E_USAGE: /, args.join(' '))
    t.match(r.stderr, message)
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  }
})
