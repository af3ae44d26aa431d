// The Snowplow translation: each tracker protocol field to spoor's event fields, base64 and JSON decoding, and its refusals.

import t, { type Test } from 'tap'
import { defaults } from '../daemon/config'
import { errors } from '../daemon/errors'
import { Encoder, encodeError, encoderOptions } from '../daemon/native'
import { decodeBatch, eventCells } from './reference/batch'
import { decodeBase64, schemaName, SnowplowRejected, translate, translatePayload, translateQuery } from '../daemon/http/snowplow'

const CONTEXTS = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0'
const UNSTRUCT = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0'
const PAYLOAD = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4'
const PAGE_CONTEXT = { schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0', data: { id: 'a1b2' } }
const CLICK = { schema: 'iglu:com.acme/button_click/jsonschema/1-0-0', data: { id: 'buy', n: 2, é: 'ü' } }

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64')
const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
const contexts = { schema: CONTEXTS, data: [PAGE_CONTEXT] }
const unstruct = { schema: UNSTRUCT, data: CLICK }

function refused (t: Test, fn: () => unknown, code: string, what: string): void {
  try {
    fn()
    t.fail(`${what}: accepted`)
  } catch (err) {
    t.ok(err instanceof SnowplowRejected, `${what}: a SnowplowRejected`)
    t.equal((err as SnowplowRejected).def.code, code, what)
  }
}

t.test('every mapped field of a page view', async t => {
  t.same(translate({
    e: 'pv', nuid: 'n-1', duid: 'd-1', uid: 'zoe@example', sid: 's-1', aid: 'shop', p: 'web', url: 'https://a.test/x', refr: 'https://b.test/',
    page: 'Title', dtm: '1764000000123', stm: '1764000000200', eid: 'c6ef3124-b53a-4b13-a233-0088f79dcbcb', tv: 'js-4.10.1', tna: 'sp',
    res: '1920x1080', vp: '800x600', lang: 'en-US', cs: 'UTF-8', tz: 'Europe/Berlin', vid: '3', cd: '24', cookie: '1'
  }), {
    uid: 'n-1',
    lid: 'zoe@example',
    sid: 's-1',
    p: 'shop',
    url: 'https://a.test/x',
    ref: 'https://b.test/',
    ct: '1764000000123',
    eid: 'c6ef3124-b53a-4b13-a233-0088f79dcbcb',
    a: 'page',
    d: { e: 'pv', platform: 'web', page: 'Title', tv: 'js-4.10.1', tna: 'sp', res: '1920x1080', vp: '800x600', lang: 'en-US', cs: 'UTF-8', tz: 'Europe/Berlin', vid: '3' }
  })
})

t.test('the uid is the network user id, else the domain user id, else absent', async t => {
  t.equal(translate({ e: 'pv', nuid: 'n', duid: 'd' }).uid, 'n')
  t.equal(translate({ e: 'pv', duid: 'd' }).uid, 'd')
  t.equal(translate({ e: 'pv', nuid: '', duid: 'd' }).uid, 'd', 'an empty nuid is absent')
  t.notOk('uid' in translate({ e: 'pv' }), 'the collector\'s cookie or a new uid is used')
  t.notOk('uid' in translate({ e: 'pv', duid: '' }))
})

t.test('event types', async t => {
  t.same(translate({ e: 'pp', pp_mix: '0', pp_max: '10', pp_miy: '5', pp_may: '900' }), { a: 'ping', d: { e: 'pp', pp: { min_x: '0', max_x: '10', min_y: '5', max_y: '900' } } })
  t.same(translate({ e: 'se', se_ca: 'video', se_ac: 'play', se_la: 'intro.mp4', se_pr: 'hd', se_va: '12.5' }), {
    a: 'play', ch: 'video', it: 'intro.mp4', d: { e: 'se', se: { category: 'video', action: 'play', label: 'intro.mp4', property: 'hd', value: '12.5' } }
  })
  t.equal(translate({ e: 'se', se_ca: 'video' }).a, 'se', 'a structured event without an action keeps its type')
  t.same(translate({ e: 'ue', ue_pr: JSON.stringify(unstruct) }), { a: 'com.acme/button_click', d: { e: 'ue', ue: CLICK } })
  t.equal(translate({ e: 'ue' }).a, 'ue', 'a self-describing event without its payload keeps its type')
  t.equal(translate({ e: 'tr', tr_id: 'o1' }).a, 'transaction')
  t.equal(translate({ e: 'ti', ti_id: 'o1' }).a, 'transaction_item')
  t.same(translate({ e: 'ad' }), { a: 'ad', d: { e: 'ad' } }, 'other types are kept raw')
  t.same(translate({}), {}, 'nothing maps to nothing')
})

t.test('schema names', async t => {
  t.equal(schemaName('iglu:com.acme/button_click/jsonschema/1-0-0'), 'com.acme/button_click')
  t.equal(schemaName('com.acme/x/jsonschema/2-0-0'), 'com.acme/x')
  t.equal(schemaName('plain'), 'plain')
})

t.test('contexts plain and encoded, in both alphabets, with and without padding', async t => {
  const want = { a: 'page', d: { e: 'pv', contexts: [PAGE_CONTEXT] } }
  t.same(translate({ e: 'pv', co: JSON.stringify(contexts) }), want, 'co')
  t.same(translate({ e: 'pv', cx: b64url(contexts) }), want, 'cx url-safe, unpadded')
  t.same(translate({ e: 'pv', cx: b64(contexts) }), want, 'cx standard, padded')
  t.same(translate({ e: 'pv', cx: b64(contexts).replace(/=+$/, '') }), want, 'cx standard, unpadded')
  t.same(translate({ e: 'pv', co: JSON.stringify(contexts), cx: 'not base64!' }), want, 'co wins over cx')
  t.same(translate({ e: 'pv', co: JSON.stringify({ schema: CONTEXTS, data: [] }) }).d, { e: 'pv', contexts: [] })
  const ue = { a: 'com.acme/button_click', d: { e: 'ue', ue: CLICK } }
  t.same(translate({ e: 'ue', ue_px: b64url(unstruct) }), ue, 'ue_px url-safe')
  t.same(translate({ e: 'ue', ue_px: b64(unstruct) }), ue, 'ue_px standard')
})

t.test('base64 is decoded strictly', async t => {
  // Lengths 1 to 3 of the last group: unpadded, padded, both alphabets.
  for (const text of ['a', 'ab', 'abc', '~?>', 'ü']) {
    const b = Buffer.from(text)
    for (const enc of [b.toString('base64'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url')]) t.equal(decodeBase64(enc, 'x'), text, enc)
  }
  for (const bad of ['a', 'ab=c', 'abc==', 'ab===', 'a b c', 'YWJj*', '=', '/w']) {
    refused(t, () => decodeBase64(bad, 'cx'), errors.BAD_SNOWPLOW.code, JSON.stringify(bad))
  }
})

t.test('bad contexts and self-describing events are refused', async t => {
  const code = errors.BAD_SNOWPLOW.code
  refused(t, () => translate({ e: 'pv', co: '{not json' }), code, 'non-JSON co')
  refused(t, () => translate({ e: 'pv', cx: '%%%' }), code, 'bad base64 in cx')
  refused(t, () => translate({ e: 'pv', cx: b64url('just a string').slice(1) }), code, 'cx not JSON')
  refused(t, () => translate({ e: 'pv', co: JSON.stringify({ data: [] }) }), code, 'contexts without schema')
  refused(t, () => translate({ e: 'pv', co: JSON.stringify({ schema: CONTEXTS, data: {} }) }), code, 'contexts whose data is not an array')
  refused(t, () => translate({ e: 'pv', co: JSON.stringify({ schema: CONTEXTS, data: [{ schema: 'x' }] }) }), code, 'a context without data')
  refused(t, () => translate({ e: 'pv', co: JSON.stringify({ schema: CONTEXTS, data: ['x'] }) }), code, 'a context that is not an object')
  refused(t, () => translate({ e: 'ue', ue_px: 'YWJj!' }), code, 'bad base64 in ue_px')
  refused(t, () => translate({ e: 'ue', ue_pr: '[' }), code, 'non-JSON ue_pr')
  refused(t, () => translate({ e: 'ue', ue_pr: JSON.stringify({ schema: UNSTRUCT }) }), code, 'ue without data')
  refused(t, () => translate({ e: 'ue', ue_pr: JSON.stringify({ schema: UNSTRUCT, data: { data: {} } }) }), code, 'ue whose event has no schema')
  refused(t, () => translate({ e: 'ue', ue_px: Buffer.from([0xc3, 0x28]).toString('base64') }), code, 'ue_px not UTF-8')
  refused(t, () => translate({ e: 'pv', url: 5 as unknown as string }), code, 'a value that is not a string')
})

t.test('tp2 payloads', async t => {
  const body = (v: unknown): Buffer => Buffer.from(JSON.stringify(v))
  t.same(JSON.parse(translatePayload(body({ schema: PAYLOAD, data: [{ e: 'pv', aid: 'a' }, { e: 'se', se_ac: 'x' }] })).toString()), [
    { p: 'a', a: 'page', d: { e: 'pv' } }, { a: 'x', d: { e: 'se', se: { action: 'x' } } }
  ])
  t.same(JSON.parse(translatePayload(body({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-0', data: [] })).toString()), [])
  refused(t, () => translatePayload(Buffer.from('{"schema":')), errors.BAD_JSON.code, 'malformed JSON')
  refused(t, () => translatePayload(Buffer.from([0x7b, 0xff, 0x7d])), errors.BAD_JSON.code, 'not UTF-8')
  const code = errors.BAD_SNOWPLOW.code
  refused(t, () => translatePayload(body([{ e: 'pv' }])), code, 'an array')
  refused(t, () => translatePayload(body({ schema: PAYLOAD })), code, 'no data array')
  refused(t, () => translatePayload(body({ schema: PAYLOAD, data: {} })), code, 'data not an array')
  refused(t, () => translatePayload(body({ schema: 'iglu:com.acme/payload_data/jsonschema/1-0-4', data: [] })), code, 'another schema')
  refused(t, () => translatePayload(body({ schema: PAYLOAD, data: ['pv'] })), code, 'an element that is not an object')
  refused(t, () => translatePayload(body({ schema: PAYLOAD, data: [null] })), code, 'a null element')
  refused(t, () => translatePayload(body({ schema: PAYLOAD, data: [{ e: 'pv', dtm: 1764000000000 }] })), code, 'a number value')
})

t.test('GET /i queries are decoded like the pixel\'s', async t => {
  t.same(JSON.parse(translateQuery(`e=se&se_ca=a+b&se_ac=%E2%9C%93&aid=&cx=${b64url(contexts)}&flag`).toString()), [
    { a: '✓', ch: 'a b', d: { e: 'se', se: { category: 'a b', action: '✓' }, contexts: [PAGE_CONTEXT] } }
  ])
  t.same(JSON.parse(translateQuery('__proto__=x&e=pv').toString()), [{ a: 'page', d: { e: 'pv' } }], '__proto__ is only a parameter')
  refused(t, () => translateQuery('e=pv&url=%zz'), errors.BAD_ESCAPE.code, 'a bad escape')
  refused(t, () => translateQuery('e=pv&url=%4'), errors.BAD_ESCAPE.code, 'a cut escape')
  refused(t, () => translateQuery('e=pv&url=%C3%28'), errors.BAD_UTF8.code, 'not UTF-8')
})

t.test('the encoder takes translated events under the default limits, and applies them', async t => {
  const encoder = new Encoder(encoderOptions(defaults()))
  const ip = Uint8Array.from([192, 0, 2, 1]).buffer
  const uidOut = Buffer.alloc(32)
  const payload = {
    schema: PAYLOAD,
    data: [{ e: 'ue', duid: 'd-1', uid: 'zoe', aid: 'shop', url: 'https://a.test/', dtm: '1764000000123', eid: 'e-1', ue_px: b64url(unstruct), cx: b64url(contexts) }]
  }
  t.equal(encoder.events(translatePayload(Buffer.from(JSON.stringify(payload))), 'UA', '', '', ip, 1764000000200, uidOut), 0)
  const cells = eventCells(decodeBatch(encoder.takeBatch()!)[0])
  t.equal(cells.uid, 'd-1')
  t.equal(cells.lid, 'zoe')
  t.equal(cells.a, 'com.acme/button_click')
  t.equal(cells.ct, '1764000000123')
  t.same(JSON.parse(cells.d!), { e: 'ue', ue: CLICK, contexts: [PAGE_CONTEXT] })

  const many = { schema: PAYLOAD, data: Array.from({ length: 501 }, () => ({ e: 'pv' })) }
  t.equal(encodeError(encoder.events(translatePayload(Buffer.from(JSON.stringify(many))), 'UA', '', '', ip, 1, uidOut)), errors.TOO_MANY_EVENTS)
  const badTime = translateQuery('e=pv&dtm=yesterday')
  t.equal(encodeError(encoder.events(badTime, 'UA', '', '', ip, 1, uidOut)), errors.BAD_FIELD)
})
