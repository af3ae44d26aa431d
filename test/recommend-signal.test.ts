// The checks of one signal, case by case: what is stored, and the reason each rejected one is given
// (the end-to-end test, recommend-signals.test.ts, sends one of each through RabbitMQ).

import t from 'tap'
import { DEFAULT_WEIGHTS } from '../daemon/config'
import { checkSignal, MAX_FUTURE_MS, REJECTIONS, type SignalLimits } from '../daemon/recommend/signal'

const limits: SignalLimits = { maxMessageBytes: 16384, maxIdBytes: 256, weights: { ...DEFAULT_WEIGHTS, upvote: 2 } }
const now = Date.UTC(2026, 10, 29, 12, 0, 0)
const check = (body: unknown, l = limits): ReturnType<typeof checkSignal> => checkSignal(Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), l, now)
const good = { user: 'alice', item: 'q42', kind: 'like', ts: now - 1000, id: 'sig-1' }

t.test('a valid signal is taken as it is, with ts in milliseconds', async t => {
  t.same(check(good), { ok: true, signal: good })
  t.same(check({ ...good, kind: 'upvote' }), { ok: true, signal: { ...good, kind: 'upvote' } }, 'a configured kind')
  t.same(check({ ...good, extra: [1, 2], d: { x: 1 } }), { ok: true, signal: good }, 'other fields are ignored')
  t.same(check({ ...good, user: 'Zoë 🐦', item: 'q/42?x=1' }), { ok: true, signal: { ...good, user: 'Zoë 🐦', item: 'q/42?x=1' } }, 'any printable UTF-8')
  const times: Array<[string, number]> = [
    ['2026-11-29T09:30:00Z', Date.UTC(2026, 10, 29, 9, 30)],
    ['2026-11-29t09:30:00z', Date.UTC(2026, 10, 29, 9, 30)],
    ['2026-11-29 09:30:00Z', Date.UTC(2026, 10, 29, 9, 30)],
    ['2026-11-29T10:30:00.250+01:00', Date.UTC(2026, 10, 29, 9, 30, 0, 250)],
    ['2026-11-29T04:00:00-05:30', Date.UTC(2026, 10, 29, 9, 30)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)]
  ]
  for (const [ts, ms] of times) t.same(check({ ...good, ts }), { ok: true, signal: { ...good, ts: ms } }, ts)
  t.equal((check({ ...good, ts: now + MAX_FUTURE_MS }) as { ok: true }).ok, true, 'a day ahead is still in')
  t.equal((check({ ...good, ts: Date.UTC(2000, 0, 1) }) as { ok: true }).ok, true, '2000-01-01 is in')
  t.equal((check({ ...good, id: 'x'.repeat(256) }) as { ok: true }).ok, true, 'an id of exactly max_id_bytes')
})

t.test('each rejection, with its reason', async t => {
  const cases: Array<[string, unknown, keyof typeof REJECTIONS, string | RegExp]> = [
    ['too large', { ...good, pad: 'x'.repeat(16384) }, 'too-large', /^the message has 164\d\d bytes, more than recommend\.max_message_bytes \(16384\)$/],
    ['empty body', '', 'bad-json', /^the message is not JSON: /],
    ['bad UTF-8', Buffer.from([0x22, 0xc3, 0x28, 0x22]), 'bad-json', 'the message is not valid UTF-8'],
    ['JSON null', 'null', 'not-an-object', 'the message is JSON null, not an object'],
    ['JSON string', '"alice"', 'not-an-object', 'the message is JSON string, not an object'],
    ['several missing', { kind: 'view' }, 'missing-field', 'the signal has no user, item, ts, id'],
    ['a null kind', { ...good, kind: null }, 'missing-field', 'the signal has no kind'],
    ['an object for an item', { ...good, item: { id: 1 } }, 'bad-field', 'item must be a string, not object'],
    ['an array for an id', { ...good, id: ['a'] }, 'bad-field', 'id must be a string, not an array'],
    ['an empty kind', { ...good, kind: '' }, 'bad-field', 'kind is empty'],
    ['a tab in an item', { ...good, item: 'q\t42' }, 'bad-field', 'item "q\\t42" holds a control character'],
    ['DEL in an id', { ...good, id: 'a\u007f' }, 'bad-field', 'id "a\u007f" holds a control character'],
    ['a long user in bytes', { ...good, user: '€'.repeat(86) }, 'too-long', 'user has 258 bytes, more than recommend.max_id_bytes (256)'],
    ['a kind of another case', { ...good, kind: 'View' }, 'unknown-kind', 'kind "View" is not one of view, like, answer, best, upvote'],
    ['a kind from the prototype', { ...good, kind: 'toString' }, 'unknown-kind', /^kind "toString" is not one of/],
    ['ts a boolean', { ...good, ts: true }, 'bad-ts', 'ts must be a number or a string, not boolean'],
    ['ts too large for a Date', { ...good, ts: Number.MAX_SAFE_INTEGER }, 'bad-ts', /^ts 9007199254740991 is more than a day ahead of the consumer's clock \(2026-11-29T12:00:00\.000Z\)$/],
    ['ts negative', { ...good, ts: -1 }, 'bad-ts', 'ts 1969-12-31T23:59:59.999Z is before 2000-01-01'],
    ['ts in exponent form', { ...good, ts: 1.8e12 + 0.5 }, 'bad-ts', /is not an integer of milliseconds/],
    ['ts without a zone', { ...good, ts: '2026-11-29T09:30:00' }, 'bad-ts', /is not an RFC 3339 date-time such as 2026-11-28T09:30:00Z$/],
    ['ts a date alone', { ...good, ts: '2026-11-29' }, 'bad-ts', /is not an RFC 3339 date-time/],
    ['ts February 31', { ...good, ts: '2026-02-31T00:00:00Z' }, 'bad-ts', 'ts "2026-02-31T00:00:00Z" is not a valid date-time'],
    ['ts hour 24', { ...good, ts: '2026-11-29T24:00:00Z' }, 'bad-ts', 'ts "2026-11-29T24:00:00Z" is not a valid date-time'],
    ['ts just over a day ahead', { ...good, ts: now + MAX_FUTURE_MS + 1 }, 'bad-ts', /is more than a day ahead/]
  ]
  for (const [what, body, error, reason] of cases) {
    const r = check(body)
    t.equal(r.ok, false, what)
    if (r.ok) continue
    t.equal(r.error, error, `${what}: ${error}`)
    if (typeof reason === 'string') t.equal(r.reason, reason, `${what}: its reason`)
    else t.match(r.reason, reason, `${what}: its reason`)
  }
  t.match(check({ ...good, user: 'x'.repeat(300) }, { ...limits, maxIdBytes: 512 }), { ok: true }, 'the id limit is the configured one')
})
