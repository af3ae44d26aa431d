// Erasure on the real HBase: `spoor erase` removes one person from every table, keeps everyone else, and is safe to run twice.

import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { eraseUser, erasureId, type EraseOptions } from '../daemon/hbase/erase'
import type { HBaseClient } from '../daemon/hbase/client'
import { identityRow } from '../daemon/native'
import { uid16 } from './reference/encoder'
import type { TResult } from '../daemon/hbase/thrift-gen/hbase_types'
import { CLI, flushed, freePort, startDaemon, tempDir, toml, type Daemon } from './fixtures/daemon'
import { client, freshTables, SALT_BUCKETS } from './fixtures/hbase'

const run = promisify(execFile)

async function post (daemon: Daemon, events: unknown[], headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(events) })
  if (res.status !== 204) throw new Error(`POST /e answered ${res.status}`)
}

/** Every row of a table, with a scanner over the whole table. */
async function scanAll (c: HBaseClient, table: string): Promise<TResult[]> {
  const rows: TResult[] = []
  const id = await c.openScanner(table, { caching: 1000 })
  try {
    for (let chunk = await c.getScannerRows(id, 1000); chunk.length > 0; chunk = await c.getScannerRows(id, 1000)) rows.push(...chunk)
  } finally {
    await c.closeScanner(id)
  }
  return rows
}

interface Tables { user: TResult[], time: TResult[], identity: TResult[] }

async function everything (hbase: Record<string, unknown>): Promise<Tables> {
  const c = await client()
  try {
    return {
      user: await scanAll(c, hbase.user_table as string),
      time: await scanAll(c, hbase.time_table as string),
      identity: await scanAll(c, hbase.identity_table as string)
    }
  } finally {
    await c.close()
  }
}

const key = (r: TResult): Buffer => r.row ?? Buffer.alloc(0)
/** An identity row's id: its key after the salt byte. */
const rowId = (r: TResult): string => key(r).subarray(1).toString('utf8')
const qualifiers = (r: TResult): string[] => r.columnValues.map(c => c.qualifier.toString('utf8')).sort()

/** What is stored of some uids and ids: event keys holding a uid, and identity rows and link cells naming an id. */
function traces (tables: Tables, uids: string[], ids: string[]): { user: string[], time: string[], rows: string[], cells: string[] } {
  const holds = (r: TResult): boolean => uids.some(uid => key(r).includes(uid16(uid)))
  return {
    user: tables.user.filter(holds).map(r => key(r).toString('hex')).sort(),
    time: tables.time.filter(holds).map(r => key(r).toString('hex')).sort(),
    rows: tables.identity.filter(r => ids.includes(rowId(r))).map(r => `${rowId(r)} ${qualifiers(r).join(',')}`).sort(),
    cells: tables.identity.flatMap(r => qualifiers(r).filter(q => ids.includes(q)).map(q => `${rowId(r)} -> ${q}`)).sort()
  }
}

async function spoor (daemon: Daemon, ...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await run(process.execPath, [CLI, ...args, '--config', daemon.configPath]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number, stdout: string, stderr: string }) => err)
}

t.test('erasing a login removes its group from every table and keeps everyone else; a second run deletes nothing', async t => {
  const hbase = await freshTables('erase')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })

  // alice: a browser (the collector's cookie and the tracker's visitor id) and a phone, both logged in.
  const page = await fetch(`${daemon.url}/p.gif?a=page&p=web&vid=v-alice&eid=aw1`)
  const webUid = /^sp_uid=([0-9a-f]{32});/.exec(page.headers.get('set-cookie')!)![1]
  await post(daemon, [{ a: 'identify', p: 'web', vid: 'v-alice', lid: 'alice', eid: 'aw2' }], { cookie: `sp_uid=${webUid}` })
  await post(daemon, [{ uid: 'alice-phone', a: 'open', p: 'ios', lid: 'alice', eid: 'ap1' }, { uid: 'alice-phone', a: 'view', p: 'ios', eid: 'ap2' }])
  // A tablet alice and bob both log in on.
  await post(daemon, [{ uid: 'family-tablet', a: 'identify', lid: 'alice', eid: 'ft1' }, { uid: 'family-tablet', a: 'page', eid: 'ft2' }])
  await post(daemon, [{ uid: 'family-tablet', a: 'identify', lid: 'bob', eid: 'ft3' }])
  // bob's own laptop, and carol, who never logs in.
  await post(daemon, [{ uid: 'bob-laptop', a: 'identify', lid: 'bob', eid: 'b1' }, { uid: 'bob-laptop', a: 'page', eid: 'b2' }])
  await post(daemon, [{ uid: 'carol-laptop', vid: 'v-carol', a: 'page', eid: 'c1' }, { uid: 'carol-laptop', vid: 'v-carol', a: 'like', eid: 'c2' }])
  await flushed(daemon)

  const aliceUids = [webUid, 'alice-phone', 'family-tablet']
  const aliceIds = ['l:alice', `u:${webUid}`, 'v:v-alice', 'u:alice-phone', 'u:family-tablet']
  const bob = { uids: ['bob-laptop'], ids: ['l:bob', 'u:bob-laptop'] }
  const carol = { uids: ['carol-laptop'], ids: ['u:carol-laptop', 'v:v-carol'] }
  const before = await everything(hbase)
  const aliceBefore = traces(before, aliceUids, aliceIds)
  t.equal(aliceBefore.user.length, 7, 'alice has 7 events: 2 on the web, 2 on the phone, 3 on the tablet (one of them bob\'s)')
  t.equal(aliceBefore.time.length, 7)
  t.equal(aliceBefore.rows.length, 5)
  const bobBefore = traces(before, bob.uids, bob.ids)
  const carolBefore = traces(before, carol.uids, carol.ids)
  t.same([bobBefore.user.length, bobBefore.time.length, bobBefore.rows.length], [2, 2, 2])
  t.same([carolBefore.user.length, carolBefore.time.length, carolBefore.rows.length], [2, 2, 2])
  t.ok(before.identity.some(r => rowId(r) === 'l:bob' && qualifiers(r).includes('u:family-tablet')), 'bob\'s login links to the tablet')

  const dry = await spoor(daemon, 'erase', '--user', 'l:alice', '--dry-run', '--json')
  t.equal(dry.code, 0)
  const expected = {
    id: 'l:alice',
    ids: [...aliceIds].sort(),
    shared: ['u:family-tablet'],
    otherLogins: ['l:bob'],
    userRows: 7,
    timeRows: 7,
    signalRows: 0,
    identityRows: 5,
    identityCells: 1,
    // No model was ever trained with this data_dir: no list of erasures to write.
    modelsNoted: null
  }
  t.same(JSON.parse(dry.stdout), { ...expected, dryRun: true }, 'the dry run counts everything')
  t.same(await everything(hbase), before, 'and deletes nothing')

  const erased = await spoor(daemon, 'erase', '--user', 'l:alice')
  t.equal(erased.code, 0, erased.stderr)
  t.equal(erased.stdout, [
    'erased l:alice',
    `         7  event rows by user         ${hbase.user_table as string}`,
    `         7  event rows by time         ${hbase.time_table as string}`,
    '         0  signal rows                spoor_signals',
    `         5  identity rows              ${hbase.identity_table as string}`,
    `         1  links in other ids' rows   ${hbase.identity_table as string}`,
    'ids erased (5):',
    ...expected.ids.map(id => `  ${id.padEnd(40)} ${id.startsWith('l:') ? 'login id' : id.startsWith('v:') ? 'visitor id (tracker, first-party storage)' : 'uid (given, or the collector cookie)'}`),
    'shared with l:bob, erased with all their events: u:family-tablet',
    ''
  ].join('\n'))
  t.comment(erased.stdout)

  const after = await everything(hbase)
  t.same(traces(after, aliceUids, aliceIds), { user: [], time: [], rows: [], cells: [] }, 'no key holds alice\'s uids, no row or link names her ids')
  t.equal(after.user.length, before.user.length - 7)
  t.equal(after.time.length, before.time.length - 7)
  t.equal(after.identity.length, before.identity.length - 5)
  const bobAfter = traces(after, bob.uids, bob.ids)
  t.same(bobAfter.user, bobBefore.user, 'bob\'s laptop keeps its events in the by-user table')
  t.same(bobAfter.time, bobBefore.time, 'and in the by-time table')
  t.same(bobAfter.rows, ['l:bob u:bob-laptop', 'u:bob-laptop l:bob'], 'bob\'s login keeps its own device and loses only the shared one')
  t.same(traces(after, carol.uids, carol.ids), carolBefore, 'carol is untouched')

  const again = await spoor(daemon, 'erase', '--user', 'l:alice', '--json')
  t.equal(again.code, 0)
  t.same(JSON.parse(again.stdout), { id: 'l:alice', dryRun: false, ids: [], shared: [], otherLogins: [], userRows: 0, timeRows: 0, signalRows: 0, identityRows: 0, identityCells: 0, modelsNoted: null }, 'a second run finds nothing')
  t.same(await everything(hbase), after, 'and deletes nothing')

  const plain = await spoor(daemon, 'erase', '--user', 'carol-laptop', '--json')
  t.equal(plain.code, 0)
  t.same(JSON.parse(plain.stdout), { id: 'u:carol-laptop', dryRun: false, ids: carol.ids, shared: [], otherLogins: [], userRows: 2, timeRows: 2, signalRows: 0, identityRows: 2, identityCells: 0, modelsNoted: null }, 'a plain uid is u:<uid>')
  t.same(traces(await everything(hbase), carol.uids, carol.ids), { user: [], time: [], rows: [], cells: [] })
})

t.test('erasing a hex uid written in upper case erases the lower-case one it is stored as, links and all', async t => {
  const hbase = await freshTables('erasehex')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const lower = 'fedcba9876543210fedcba9876543210'
  const upper = lower.toUpperCase()
  await post(daemon, [{ uid: upper, vid: 'v-hex', lid: 'hexe', a: 'identify', eid: 'x1' }, { uid: lower, vid: 'v-hex', a: 'page', eid: 'x2' }])
  await post(daemon, [{ uid: 'hexe-laptop', lid: 'hexe', a: 'page', eid: 'y1' }])
  await flushed(daemon)
  const ids = [`u:${lower}`, 'v:v-hex']
  const before = traces(await everything(hbase), [lower], ids)
  t.same([before.user.length, before.time.length, before.rows.length, before.cells.length], [2, 2, 2, 4], 'two events, two device rows, and the links that name them')

  const erased = await spoor(daemon, 'erase', '--user', upper, '--json')
  t.equal(erased.code, 0, erased.stderr)
  t.same(JSON.parse(erased.stdout), { id: `u:${lower}`, dryRun: false, ids, shared: [`u:${lower}`, 'v:v-hex'], otherLogins: ['l:hexe'], userRows: 2, timeRows: 2, signalRows: 0, identityRows: 2, identityCells: 2, modelsNoted: null })
  const after = await everything(hbase)
  t.same(traces(after, [lower], ids), { user: [], time: [], rows: [], cells: [] }, 'nothing names the uid in either case')
  t.same(traces(after, ['hexe-laptop'], ['l:hexe']).rows, ['l:hexe u:hexe-laptop'], 'the login keeps its other device')
})

t.test('eraseUser deletes in batches of batchSize, refuses a group over maxIds, and checks its options', async t => {
  const hbase = await freshTables('erasebatch')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  await post(daemon, Array.from({ length: 5 }, (_, i) => ({ uid: 'dave-desktop', vid: 'v-dave', a: 'page', eid: `d${i}` })))
  await flushed(daemon)

  const options: EraseOptions = { userTable: hbase.user_table as string, timeTable: hbase.time_table as string, identityTable: hbase.identity_table as string, saltBuckets: SALT_BUCKETS, batchSize: 2 }
  const c = await client()
  t.teardown(async () => { await c.close() })
  await t.rejects(eraseUser(c, { ...options, maxIds: 1 }, 'v:v-dave'), { code: 'SPOOR_E_ERASE_FAILED', message: /the group of v:v-dave has more than 1 ids, more than one person has; nothing was erased/ }, 'a group too large is refused whole')
  t.equal((await everything(hbase)).user.length, 5)
  t.match(await eraseUser(c, options, 'v:v-dave'), { ids: ['u:dave-desktop', 'v:v-dave'], userRows: 5, timeRows: 5, identityRows: 2, identityCells: 0 })
  t.same((await c.get(options.identityTable, identityRow('u:dave-desktop', SALT_BUCKETS))).columnValues ?? [], [])
  t.same(await everything(hbase), { user: [], time: [], identity: [] })

  await t.rejects(eraseUser(c, { ...options, batchSize: 0 }, 'u:x'), new RangeError('options.batchSize must be an integer from 1 to 10000'))
  await t.rejects(eraseUser(c, { ...options, saltBuckets: 257 }, 'u:x'), new RangeError('options.saltBuckets must be an integer from 1 to 256'))
  await t.rejects(eraseUser(c, { ...options, maxIds: 0 }, 'u:x'), new RangeError('options.maxIds must be an integer from 1 to 1000000'))
  t.equal(erasureId('dave'), 'u:dave')
  t.equal(erasureId('s:abc'), 's:abc')
  t.throws(() => erasureId(''), new RangeError('the id to erase is empty'))
})

t.test('spoor erase: usage errors, and HBase out of reach', async t => {
  const hbase = await freshTables('eraseusage')
  const dir = tempDir('erase')
  const configPath = join(dir, 'spoor.toml')
  writeFileSync(configPath, toml({ hbase }))
  const cli = async (...args: string[]): Promise<{ code: number, stderr: string }> => await run(process.execPath, [CLI, ...args, '--config', configPath])
    .then(() => ({ code: 0, stderr: '' }), (err: { code: number, stderr: string }) => err)

  t.match(await cli('erase'), { code: 1, stderr: /SPOOR_E_USAGE: the command line is invalid: erase needs --user ID, written t:value \(such as l:alice\) or a plain uid/ })
  t.match(await cli('erase', '--user', ''), { code: 1, stderr: /SPOOR_E_USAGE: the command line is invalid: the id to erase is empty/ })
  t.match(await cli('erase', '--user', 'x:alice'), { code: 1, stderr: /SPOOR_E_USAGE: .*an id is written t:value, where t is one of u, v, s, e, f, l; got "x:alice"/ })
  t.match(await cli('erase', '--user', 'u:'), { code: 1, stderr: /SPOOR_E_USAGE: .*got "u:"/ })

  const nowhere = join(dir, 'nowhere.toml')
  writeFileSync(nowhere, toml({ hbase: { ...hbase, port: await freePort() } }))
  const down = await run(process.execPath, [CLI, 'erase', '--user', 'l:alice', '--config', nowhere]).then(() => undefined, (err: { code: number, stderr: string }) => err)
  t.match(down, { code: 1, stderr: /SPOOR_E_HBASE_UNAVAILABLE: HBase did not answer: no Thrift2 gateway at 127\.0\.0\.1:\d+/ })
})
