// The fuzz targets' seeds and every crash they found (native/fuzz/, docs/reliability.md#fuzzing), replayed through
// the built addon as the daemon calls it: each call answers, with a result or a refusal, and the process lives on.
// The targets' own checks run in `cargo test -p spoor-native`; this is the same input across the napi boundary.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Encoder, putRequests, Sessions, type EncoderOptions } from '../daemon/native'

const fuzz = join(__dirname, '..', '..', 'native', 'fuzz')
// The limits of native/src/fuzz.rs, so that the inputs reach the same refusals.
const options: EncoderOptions = {
  saltBuckets: 16,
  maxQueryBytes: 1024,
  maxFields: 16,
  maxValueBytes: 64,
  maxDataBytes: 256,
  maxEventsPerPost: 8,
  maxJsonDepth: 5,
  batchMaxBytes: 2048,
  anonymizeIp: false,
  cookieName: 'sp_uid'
}
const NOW = 1_700_000_000_000
const uidOut = Buffer.alloc(32)

/** Every seed and regression of a target, by file name. */
function inputs (target: string): Array<[string, Buffer]> {
  const found: Array<[string, Buffer]> = []
  for (const kind of ['corpus', 'regressions']) {
    const dir = join(fuzz, kind, target)
    if (!existsSync(dir)) continue
    for (const name of readdirSync(dir)) found.push([`${kind}/${target}/${name}`, readFileSync(join(dir, name))])
  }
  return found
}

/** A call's answer is a set of flags or one of the published error codes. */
function answered (t: Test, r: number, name: string): void {
  t.ok(Number.isInteger(r) && r >= -9 && r <= 3, `${name}: ${r}`)
}

/** What an encoder wrote reads back through the sessions and the flush. */
function readsBack (t: Test, encoder: Encoder, name: string): void {
  const batch = encoder.takeBatch()
  if (batch === null) return
  const sessions = new Sessions({ timeoutMs: 1_800_000, maxUsers: 4, ownHosts: [] })
  t.ok(sessions.assign(batch).length >= batch.length, `${name}: sessions`)
  const requests = putRequests(batch, 4096, 16, false, [])
  t.ok('events' in requests && requests.events > 0, `${name}: flush`)
}

t.test('query seeds through pixel()', async t => {
  const all = inputs('query')
  t.ok(all.length > 0)
  for (const [name, data] of all) {
    const encoder = new Encoder(options)
    answered(t, encoder.pixel(data.toString('utf8'), 'Mozilla/5.0', '', '', new ArrayBuffer(0), NOW, uidOut), name)
    readsBack(t, encoder, name)
  }
})

t.test('json seeds through events()', async t => {
  const all = inputs('json')
  t.ok(all.length > 0)
  for (const [name, data] of all) {
    const encoder = new Encoder(options)
    answered(t, encoder.events(data, 'Mozilla/5.0', '', '', new ArrayBuffer(0), NOW, uidOut), name)
    readsBack(t, encoder, name)
  }
})

t.test('headers seeds through pixel() and events()', async t => {
  const all = inputs('headers')
  t.ok(all.length > 0)
  for (const [name, data] of all) {
    if (data.length === 0) continue
    // `flags cookie \0 user-agent \0 referer \0 ip \0 query`, as native/src/fuzz.rs reads it.
    const parts: Buffer[] = []
    let rest = data.subarray(1)
    while (parts.length < 4 && rest.includes(0)) {
      const zero = rest.indexOf(0)
      parts.push(rest.subarray(0, zero))
      rest = rest.subarray(zero + 1)
    }
    parts.push(rest)
    while (parts.length < 5) parts.push(Buffer.alloc(0))
    const [cookie, ua, referer, ip, query] = parts
    const flags = data[0]
    const encoder = new Encoder(options)
    const args = [ua.toString('utf8'), referer.toString('utf8'), cookie.toString('utf8'), Uint8Array.from(ip).buffer, NOW, uidOut, (flags & 1) !== 0] as const
    const r = (flags & 2) === 0 ? encoder.pixel(query.toString('utf8'), ...args) : encoder.events(query, ...args)
    answered(t, r, name)
    readsBack(t, encoder, name)
  }
})

t.test('batch seeds through the sessions and the flush', async t => {
  const all = inputs('batch')
  t.ok(all.length > 0)
  for (const [name, data] of all) {
    const sessions = new Sessions({ timeoutMs: 1_800_000, maxUsers: 4, ownHosts: ['shop.example'] })
    try {
      const withSids = sessions.assign(data)
      t.same(sessions.assign(withSids), withSids, `${name}: a rewritten batch rewrites to itself`)
    } catch (e) {
      t.match((e as Error).message, /^batch is not format v1: /, name)
    }
    const requests = putRequests(data, 4096, 16, true, ['mob'])
    if ('reason' in requests) {
      t.match(requests.reason, /^batch is not format v1: /, name)
      continue
    }
    for (let i = 0; i < requests.requests; i++) {
      t.ok(requests.frame(i, Buffer.from('events'), false, 1).length > 4, `${name}: frame ${i}`)
      t.ok(requests.frame(i, Buffer.from('events_by_time'), true, 2).length > 4, `${name}: frame ${i} by time`)
    }
    for (let i = 0; i < requests.linkRequests; i++) t.ok(requests.linkFrame(i, Buffer.from('identity'), 3).length > 4)
  }
})
