// Nothing lost, nothing twice: while an application publishes signals with confirms, the consumer is killed with
// SIGKILL and restarted, and then RabbitMQ itself is restarted. Every confirmed signal ends up in the signals table
// exactly once, with what was published, and nothing else does.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../daemon/config'
import { allSignals, type Signal } from '../daemon/hbase/signals'
import { SignalPublisher } from '../daemon/recommend/publisher'
import { topology } from '../daemon/recommend/topology'
import { createLogger } from '../daemon/log'
import { startConsumer, type Consumer } from './fixtures/consumer'
import { tempDir, toml, until } from './fixtures/daemon'
import { client } from './fixtures/hbase'
import { freshRecommend, queueCounts, suiteRabbitMQ } from './fixtures/rabbitmq'

/** Signals published in all; the first BACKLOG before any consumer runs, so that the first one always holds deliveries. */
const TOTAL = 12000
const BACKLOG = 5000
/** Where publishing waits until RabbitMQ is being restarted, so that the restart always comes mid-stream. */
const GATE = 9000
/** Signals per pacing step, and the step's length. */
const STEP = 60
const STEP_MS = 40

t.test('kill -9 of the consumer and a restart of RabbitMQ mid-stream: every confirmed signal is stored exactly once', async t => {
  const { recommend, hbase } = await freshRecommend('noloss')
  // Small batches and a small prefetch: a consumer holds at most 200 deliveries, in batches of 50.
  const sections = { recommend: { ...recommend, prefetch: 200, batch_size: 50, batch_ms: 10 }, hbase }
  const dir = tempDir('noloss')
  const configPath = join(dir, 'spoor.toml')
  writeFileSync(configPath, toml(sections))
  const publisher = await SignalPublisher.connect({ url: recommend.amqp_url as string, topology: topology(loadConfig(configPath)), retryMinMs: 50, retryMaxMs: 1000, timeoutMs: 120000, log: createLogger('warn') })

  const now = Date.now()
  const signal = (i: number): Signal => ({ user: `u${i % 101}`, item: `q${i % 997}`, kind: ['view', 'like', 'answer', 'best'][i % 4], ts: now - i, id: `nl-${i}` })
  const confirmed = new Set<number>()
  const failed: string[] = []
  const inFlight: Array<Promise<void>> = []
  let sent = 0
  const send = (i: number): void => {
    // Every 25th signal is published twice, as an application that retries would.
    for (const copy of i % 25 === 0 ? [0, 1] : [0]) {
      inFlight.push(publisher.publish(signal(i)).then(() => { confirmed.add(i) }, (err: Error) => { failed.push(`${i}/${copy}: ${err.message}`) }))
    }
    sent = i + 1
  }
  for (let i = 0; i < BACKLOG; i++) send(i)
  await Promise.all(inFlight)
  let openGate!: () => void
  const gate = new Promise<void>(resolve => { openGate = resolve })
  const publishing = (async () => {
    for (let i = BACKLOG; i < TOTAL; i++) {
      if (i === GATE) await gate
      send(i)
      if (sent % STEP === 0) await new Promise(resolve => setTimeout(resolve, STEP_MS))
    }
    await Promise.all(inFlight)
  })()

  // 1. The consumer is killed with SIGKILL while it holds deliveries of the backlog, and a new one starts.
  let consumer: Consumer = await startConsumer(sections)
  t.teardown(async () => { await consumer.kill() })
  await consumer.logged('the first consumer to store 1500 signals', l => l.msg === 'batch acknowledged' && l.stored >= 1500)
  await consumer.kill()
  t.comment(`consumer killed with SIGKILL after ${sent} signals were sent`)
  consumer = await startConsumer(sections)

  // 2. RabbitMQ restarts under both the publisher and the new consumer.
  await consumer.logged('the second consumer to store 1000 signals', l => l.msg === 'batch acknowledged' && l.stored >= 1000)
  const node = suiteRabbitMQ()
  t.teardown(async () => { await node.start() })
  const sentBefore = sent
  const stopping = node.stop()
  openGate()
  await stopping
  t.ok(sentBefore < TOTAL, `RabbitMQ stopped while signals were still being published (${sentBefore} of ${TOTAL} sent)`)
  await node.start()

  await publishing
  t.same(failed, [], 'the publisher had every signal confirmed, across the restart')
  t.equal(confirmed.size, TOTAL)
  await until('the queue to be empty', async () => {
    const q = await queueCounts(recommend.queue as string)
    return q.ready === 0 && q.unacked === 0
  }, 120000, 500)
  await publisher.close()

  const c = await client()
  t.teardown(async () => { await c.close() })
  const rows = await allSignals(c, recommend.signals_table as string)
  const ids = rows.map(r => r.id)
  t.equal(new Set(ids).size, ids.length, 'no signal id is stored twice')
  t.equal(rows.length, TOTAL, `${TOTAL} rows: every confirmed signal, and nothing else`)
  const wrong = rows.filter(r => {
    const i = Number(r.id.slice(3))
    const s = signal(i)
    return !confirmed.has(i) || r.user !== s.user || r.item !== s.item || r.kind !== s.kind || r.ts !== s.ts
  })
  t.same(wrong.map(r => r.id), [], 'each row holds what was published')

  t.equal(await consumer.stop(), 0)
  const stats = consumer.logs.find(l => l.msg === 'stopped')
  t.ok(stats?.redelivered > 0, `RabbitMQ delivered again what the killed consumer had not acknowledged (${String(stats?.redelivered)} redeliveries)`)
  t.ok(stats?.connections >= 2, 'the consumer reconnected after the restart')
  t.equal((await queueCounts(recommend.dead_letter_queue as string)).ready, 0, 'nothing was dead-lettered')
})
