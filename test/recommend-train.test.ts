// Training on the real Spark: signals published through the real RabbitMQ and stored by the consumer in the real HBase,
// item views tracked through the real collector. The generation it writes holds every user and item once, each
// user's best unseen items are from their own group of items, a visitor known only from tracking gets a vector of
// their own, and a second run replaces the first beyond recommend.keep_generations.

import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../daemon/config'
import { generations, readGeneration, type Generation } from '../daemon/recommend/train'
import { publish, startConsumer } from './fixtures/consumer'
import { flushed, startDaemon, tempDir, toml } from './fixtures/daemon'
import { freshTables, ZK_PORT } from './fixtures/hbase'
import { freshRecommend } from './fixtures/rabbitmq'
import { random, REPORTS, spoor } from './fixtures/reports'

const GROUPS = { a: ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'], b: ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'] }
const KINDS = ['view', 'like', 'answer', 'best']

/** The user's score for each item: the dot product of their factors. */
function scores (g: Generation, user: string): Map<string, number> {
  const u = g.users.indexOf(user)
  if (u < 0) throw new Error(`${user} is not in the generation`)
  const rank = g.meta.rank
  return new Map(g.items.map((item, i) => {
    let s = 0
    for (let k = 0; k < rank; k++) s += g.userFactors[u * rank + k] * g.itemFactors[i * rank + k]
    return [item, s]
  }))
}

/** The n items with the best scores that the user has not acted on. */
function best (g: Generation, user: string, seen: Set<string>, n: number): string[] {
  return [...scores(g, user)].filter(([item]) => !seen.has(item)).sort((x, y) => y[1] - x[1]).slice(0, n).map(([item]) => item)
}

t.test('recommend train: ALS over signals and tracked views, written as a generation whose users prefer their own group', async t => {
  const { recommend, hbase: recommendHBase } = await freshRecommend('train')
  const hbase = { ...recommendHBase, ...await freshTables('train'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const dir = tempDir('train')
  const sections = { recommend: { ...recommend, rank: 3, iterations: 15, reg_param: 0.1, alpha: 5 }, hbase, reports: REPORTS }
  const consumer = await startConsumer(sections, dir)
  t.teardown(async () => { await consumer.stop() })

  // 24 users who sign in: users 0–11 act on items of group a, 12–23 on group b, each on 4 of their group's 8.
  const rand = random(5)
  const seen = new Map<string, { group: 'a' | 'b', items: Set<string> }>()
  const signals: Array<{ user: string, item: string, kind: string, ts: number, id: string }> = []
  const now = Date.now()
  for (let u = 0; u < 24; u++) {
    const user = `user-${u}`
    const group = u < 12 ? 'a' : 'b'
    // Four items of the group, every item of it taken by some user.
    const items = new Set([0, 1, 3, 5].map(k => GROUPS[group][(u + k) % 8]))
    seen.set(`l:${user}`, { group, items })
    for (const item of items) signals.push({ user, item, kind: KINDS[rand(KINDS.length)], ts: now - rand(86400000), id: `${user}-${item}` })
  }
  const published = await publish(consumer.configPath, signals.map(s => JSON.stringify(s)).join('\n') + '\n')
  t.equal(published.code, 0, published.stderr)
  await consumer.logged('every signal stored', l => l.msg === 'batch acknowledged' && l.stored >= signals.length)

  // Tracking: carol, who has sent no signal yet, browsed group b's items on the site, logged in once; an anonymous
  // visitor browsed group a's. Neither appears in any signal.
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const views = [
    ...['b0', 'b1', 'b2', 'b3', 'b4'].map((it, i) => ({ uid: 'dev-carol', it, a: 'view', ...(i === 0 ? { lid: 'carol' } : {}) })),
    ...['a0', 'a1', 'a2', 'a3'].map(it => ({ uid: 'dev-anon', it, a: 'view' })),
    { uid: 'dev-anon', a: 'page' },
    // Recorded anonymously (the uid of 32 zeros): no one's view, left out of training.
    ...['b5', 'b6'].map(it => ({ uid: '0'.repeat(32), it, a: 'view' }))
  ]
  const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(views) })
  t.equal(res.status, 204)
  await flushed(daemon)

  const configPath = join(dir, 'train.toml')
  writeFileSync(configPath, toml(sections, { data_dir: dir }))
  const trained = await spoor(['recommend', 'train', '--config', configPath])
  t.equal(trained.code, 0, trained.stderr)
  t.match(trained.stderr, /^spoor: model generation \d{8}T\d{9}Z trained in [\d.]+ s: 26 users, 16 items, rank 3, from 96 signals and 9 tracked events\n$/)
  const config = loadConfig(configPath)
  const [name] = generations(config)
  t.equal(trained.stdout.trim(), join(dir, 'models', name), 'it prints the generation\'s directory')
  const g = readGeneration(config, name)
  t.match(g.meta, { format: 2, generation: name, rank: 3, iterations: 15, regParam: 0.1, alpha: 5, trackWeight: 0.5, users: 26, items: 16, signals: 96, trackedEvents: 9 })
  t.equal(g.meta.lastSignalTs, Math.max(...signals.map(s => s.ts)), 'the newest signal it saw')
  t.same(g.items, [...GROUPS.a, ...GROUPS.b], 'every item once, sorted')
  t.same(g.users.filter(u => u.startsWith('l:user-')).length, 24, 'every signalling user, as their login')
  t.ok(g.users.includes('l:carol'), 'the visitor who logged in is trained as their login, with their anonymous views')
  t.ok(g.users.includes('u:dev-anon'), 'an anonymous visitor is trained under their uid')
  t.notOk(g.users.includes(`u:${'0'.repeat(32)}`), 'events recorded anonymously belong to no one')
  // The preferences trained: one record per user and item, 96 signals on distinct items and 9 viewed items.
  t.equal(g.strengths.length, (96 + 9) * 12, 'strengths.bin: a record for each user and item')
  const everyone = g.popular.find(l => l.channel === null && l.country === null)
  t.equal(everyone?.items.length, 16, 'popular.json: every item in the list of everyone')
  t.same(g.popular.filter(l => l.channel !== null || l.country !== null), [], 'and no list by channel or country: no event had one')

  for (const [user, { group, items }] of seen) {
    const top = best(g, user, items, 3)
    t.ok(top.every(item => item.startsWith(group)), `${user}'s best unseen items are of group ${group}: ${top.join(', ')}`)
  }
  t.ok(best(g, 'l:carol', new Set(['b0', 'b1', 'b2', 'b3', 'b4']), 2).every(i => i.startsWith('b')), 'carol, from tracking alone, is offered group b')
  t.ok(best(g, 'u:dev-anon', new Set(['a0', 'a1', 'a2', 'a3']), 2).every(i => i.startsWith('a')), 'the anonymous visitor, group a')

  // A second run writes a generation beside the first, and then deletes the oldest beyond recommend.keep_generations.
  writeFileSync(configPath, toml({ ...sections, recommend: { ...sections.recommend, keep_generations: 1 } }, { data_dir: dir }))
  const again = await spoor(['recommend', 'train', '--config', configPath])
  t.equal(again.code, 0, again.stderr)
  const kept = generations(config)
  t.equal(kept.length, 1, 'keep_generations = 1 keeps the newest alone')
  t.ok(kept[0] > name, 'and it is the one just trained')
  t.same(readdirSync(join(dir, 'models')).filter(f => f.startsWith('.')), [], 'no half-written generation is left')
})

t.test('recommend train: nothing to train on, and bad options, each one line with a code', async t => {
  const { recommend, hbase: recommendHBase } = await freshRecommend('train_empty')
  const hbase = { ...recommendHBase, ...await freshTables('train_empty'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const dir = tempDir('train-empty')
  const configPath = join(dir, 'spoor.toml')
  writeFileSync(configPath, toml({ recommend, hbase, reports: REPORTS }, { data_dir: dir }))
  const empty = await spoor(['recommend', 'train', '--config', configPath])
  t.equal(empty.code, 1)
  t.match(empty.stderr, /^spoor: SPOOR_E_TRAIN_FAILED: the training job failed and wrote no model generation: IllegalStateException: there is nothing to train on: no signal of a weighted kind, and no tracked event naming an item in the history window \(log: [^\n]+train\.log\)\n$/)
  t.same(generations(loadConfig(configPath)), [], 'no generation is written')
  const badMaster = await spoor(['recommend', 'train', '--master', 'nowhere', '--config', configPath])
  t.equal(badMaster.code, 1)
  t.match(badMaster.stderr, /^spoor: SPOOR_E_USAGE: [^\n]+\n$/)
  const unknown = await spoor(['recommend', 'nosuch', '--config', configPath])
  t.match(unknown.stderr, /^spoor: SPOOR_E_USAGE: the command line is invalid: unknown recommend command "nosuch"/)
})
