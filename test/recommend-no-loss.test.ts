// Nothing lost, nothing twice: while an application publishes signals with confirms, the consumer is killed with
// SIGKILL and restarted, and then RabbitMQ itself is restarted. Every confirmed signal ends up in the signals table
// exactly once, with what was published, and nothing else does.

import t from 'tap'
import { loadConfig } from '../daemon/config'
import { allSignals, type Signal } from '../daemon/hbase/signals'
import { SignalPublisher } from '../daemon/recommend/publisher'
import { topology } from '../daemon/recommend/topology'
import { createLogger } from '../daemon/log'
import { startConsumer, type Consumer } from './fixtures/consumer'
import { until } from './fixtures/daemon'
import { client } from './fixtures/hbase'
import { freshRecommend, queueCounts, suiteRabbitMQ } from './fixtures/rabbitmq'

/** Signals published in all, paced so that both failures happen while they are still coming. */
const TOTAL = 12000
/** Signals per pacing step, and the step's length. */
const STEP = 60
const STEP_MS = 40

t.test('kill -9 of the consumer and a restart of RabbitMQ mid-stream: every confirmed signal is stored exactly once', async t => {
  const { recommend, hbase } = await freshRecommend('noloss')
  // Small batches and a small prefetch, so that a kill always finds deliveries in flight.
  const sections = { recommend: { ...recommend, prefetch: 200, batch_size: 50, batch_ms: 10 }, hbase }
  let consumer: Consumer = await startConsumer(sections)
  t.teardown(async () => { await consumer.kill() })
  const config = loadConfig(consumer.configPath)
  const publisher = await SignalPublisher.connect({ url: recommend.amqp_url as string, topology: topology(config), retryMinMs: 50, retryMaxMs: 1000, timeoutMs: 120000, log: createLogger('warn') })

  const now = Date.now()
  const signal = (i: number): Signal => ({ user: `u${i % 101}`, item: `q${i % 997}`, kind: ['view', 'like', 'answer', 'best'][i % 4], ts: now - i, id: `nl-${i}` })
  const confirmed = new Set<number>()
  const failed: string[] = []
  let sent = 0
  const publishing = (async () => {
    const inFlight: Array<Promise<void>> = []
    for (let i = 0; i < TOTAL; i++) {
      // Every 25th signal is published twice, as an application that retries would.
      for (const copy of i % 25 === 0 ? [0, 1] : [0]) {
        inFlight.push(publisher.publish(signal(i)).then(() => { confirmed.add(i) }, (err: Error) => { failed.push(`${i}/${copy}: ${err.message}`) }))
      }
      sent = i + 1
      if (sent % STEP === 0) await new Promise(resolve => setTimeout(resolve, STEP_MS))
    }
    await Promise.all(inFlight)
  })()

  // 1. The consumer is killed with SIGKILL while it holds deliveries, and a new one starts.
  await consumer.logged('the first consumer to store 1500 signals', l => l.msg === 'batch acknowledged' && l.stored >= 1500)
  await consumer.kill()
  t.comment(`consumer killed with SIGKILL after ${sent} signals were sent`)
  consumer = await startConsumer(sections)

  // 2. RabbitMQ restarts under both the publisher and the new consumer.
  await consumer.logged('the second consumer to store 1000 signals', l => l.msg === 'batch acknowledged' && l.stored >= 1000)
  const node = suiteRabbitMQ()
  t.teardown(async () => { await node.start() })
  const sentBefore = sent
  await node.stop()
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
