// Bad input: every oversized, malformed, hostile or half-sent request gets its documented answer, and the collector keeps serving.

import { connect } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { errors } from '../daemon/errors'
import { flushed, startDaemon } from './fixtures/daemon'
import { countRows, freshTables } from './fixtures/hbase'
import { get, post, raw } from './fixtures/http'

interface Case {
  name: string
  head: string
  body?: Buffer | string
  status: number
  code?: string
}

const json = (n: number): string => JSON.stringify(Array.from({ length: n }, (_, i) => ({ uid: 'bad', a: 'x', eid: String(i) })))

const cases: Case[] = [
  { name: 'oversized query', head: get(`/p.gif?uid=bad&d=${'x'.repeat(5000)}`), status: 414, code: errors.QUERY_TOO_LONG.code },
  { name: '10k parameters', head: get(`/p.gif?${'a&'.repeat(10000)}`), status: 414, code: errors.QUERY_TOO_LONG.code },
  { name: 'too many fields', head: get(`/p.gif?${Array.from({ length: 40 }, (_, i) => `k${i}=1`).join('&')}`), status: 400, code: errors.TOO_MANY_FIELDS.code },
  { name: 'malformed % escape', head: get('/p.gif?uid=bad&url=%zz'), status: 400, code: errors.BAD_ESCAPE.code },
  { name: 'truncated % escape', head: get('/p.gif?uid=bad&url=%4'), status: 400, code: errors.BAD_ESCAPE.code },
  { name: 'invalid UTF-8', head: get('/p.gif?uid=bad&url=%C3%28'), status: 400, code: errors.BAD_UTF8.code },
  { name: 'value too long', head: get(`/p.gif?uid=bad&it=${'i'.repeat(3000)}`), status: 400, code: errors.VALUE_TOO_LONG.code },
  { name: 'bad client timestamp', head: get('/p.gif?uid=bad&ct=yesterday'), status: 400, code: errors.BAD_FIELD.code },
  { name: 'huge Cookie header', head: get('/p.gif?uid=bad', { Cookie: `x=${'c'.repeat(20000)}` }), status: 431, code: errors.HEADER_TOO_LARGE.code },
  { name: 'huge User-Agent on POST', head: post('/e', '[]', { 'User-Agent': 'u'.repeat(9000) }), body: '[]', status: 431, code: errors.HEADER_TOO_LARGE.code },
  { name: 'request head past the HTTP layer limit', head: get('/p.gif', { Cookie: 'c'.repeat(130000) }), status: 0 },
  { name: 'non-JSON body', head: post('/e', 'hello'), body: 'hello', status: 400, code: errors.BAD_JSON.code },
  { name: 'JSON that is not an array of events', head: post('/e', '{"a":"x"}'), body: '{"a":"x"}', status: 400, code: errors.BAD_JSON.code },
  { name: 'deeply nested JSON', head: post('/e', '['.repeat(5000) + ']'.repeat(5000)), body: '['.repeat(5000) + ']'.repeat(5000), status: 400, code: errors.JSON_TOO_DEEP.code },
  { name: 'too many events', head: post('/e', json(501)), body: json(501), status: 413, code: errors.TOO_MANY_EVENTS.code },
  { name: 'body too large', head: post('/e', 'x', { 'Content-Length': String(2 * 1024 * 1024) }), status: 413, code: errors.BODY_TOO_LARGE.code },
  { name: 'wrong content type', head: post('/e', '[]', { 'Content-Type': 'application/xml' }), body: '[]', status: 415, code: errors.UNSUPPORTED_MEDIA_TYPE.code },
  { name: 'no content type', head: post('/e', '[]', { 'Content-Type': '' }), body: '[]', status: 415, code: errors.UNSUPPORTED_MEDIA_TYPE.code },
  { name: 'no content length', head: post('/e', '[]', { 'Content-Length': '' }), status: 411, code: errors.LENGTH_REQUIRED.code },
  { name: 'content length that is not a number', head: post('/e', '[]', { 'Content-Length': 'lots' }), status: 0 },
  { name: 'negative content length', head: post('/e', '[]', { 'Content-Length': '-1' }), status: 0 },
  { name: 'unknown path', head: get('/wp-admin/setup.php'), status: 404, code: errors.NOT_FOUND.code },
  { name: 'unknown method on a known path', head: 'DELETE /e HTTP/1.1\r\nHost: x\r\n\r\n', status: 404, code: errors.NOT_FOUND.code }
]

t.test('bad input', async t => {
  const hbase = await freshTables('bad')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })

  // Accepted before the bad input: it must survive all of it.
  const before = await fetch(`${daemon.url}/p.gif?uid=good&a=before`)
  t.equal(before.status, 200)

  for (const c of cases) {
    const res = await raw(daemon.port, c.head, c.body ?? '')
    t.equal(res.status, c.status, `${c.name}: status`)
    if (c.code != null) t.equal(JSON.parse(res.body).error.code, c.code, `${c.name}: code`)
    if (c.status === 0) t.ok(res.closed, `${c.name}: the connection is closed without an answer`)
    // The collector still serves after each case.
    t.equal((await fetch(`${daemon.url}/healthz`)).status, 200, `${c.name}: still serving`)
  }

  await t.test('a body cut short by the client is dropped', async t => {
    const socket = connect(daemon.port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write(post('/e', '', { 'Content-Length': '100' }) + '[{"uid":"bad","a":"half')
    socket.end()
    await once(socket, 'close')
    t.equal((await fetch(`${daemon.url}/healthz`)).status, 200)
  })

  await t.test('a body that stalls is cut off by the idle timeout', async t => {
    const socket = connect(daemon.port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write(post('/e', '', { 'Content-Length': '100' }) + '[{"uid":"bad"')
    socket.resume()
    await once(socket, 'close')
    t.pass('the server closed the stalled connection')
  })

  await t.test('HEAD answers the pixel headers without recording', async t => {
    const res = await fetch(`${daemon.url}/p.gif?uid=bad`, { method: 'HEAD' })
    t.equal(res.status, 200)
    t.equal(res.headers.get('content-type'), 'image/gif')
  })

  // Accepted after the bad input.
  const after = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify([{ uid: 'good', a: 'after' }]) })
  t.equal(after.status, 204)

  const health = await flushed(daemon)
  t.equal(health.metrics.eventsAccepted, 2, 'only the two good events were accepted')
  t.equal(await countRows(hbase.user_table as string), 2)
  t.equal(await countRows(hbase.time_table as string), 2)
})
