// The traffic report on a Spark standalone cluster: the same job, submitted by `spoor report run --master` (its own driver, or spark-submit), stores the same answer as a local run; and the recommendations' training runs there too.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { loadConfig } from '../daemon/config'
import { generations, readGeneration } from '../daemon/recommend/train'
import { CLI, flushed, startDaemon, tempDir, toml } from './fixtures/daemon'
import { freshTables, ZK_PORT } from './fixtures/hbase'
import { freshRecommend } from './fixtures/rabbitmq'
import { reportsTable } from './fixtures/reports'
import { startSparkCluster } from './fixtures/spark-cluster'

async function spoor (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number, stdout: string, stderr: string, ms: number }> {
  const started = Date.now()
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const [code] = await once(child, 'exit') as [number]
  return { code, stdout, stderr, ms: Date.now() - started }
}

const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
]

/**
 * A small data set with every kind of row the job treats apart: page views and other actions, referrers, a crawler,
 * a login shared by two browsers, a visitor id shared by two browsers, and repeated event ids.
 */
function events (n: number): Array<{ ua: string, body: Record<string, string> }> {
  return Array.from({ length: n }, (_, i) => {
    const user = i % 9
    const ids = { ...(user === 1 || user === 2 ? { lid: 'alice' } : {}), ...(user === 3 || user === 4 ? { vid: 'v-shared' } : {}) }
    return {
      ua: AGENTS[user === 8 ? 2 : user % 2],
      body: {
        uid: user === 8 ? 'crawler' : `user-${user}`,
        eid: `ev-${i % 97}`,
        sid: `s-${user}-${i % 4}`,
        url: `https://site.example/p/${i % 6}${i % 5 === 0 ? '?utm_source=x' : ''}`,
        ...(i % 3 === 0 ? { ref: ['https://www.google.com/', 'https://news.example/a'][i % 2] } : {}),
        a: i % 4 === 0 ? 'click' : 'page',
        // Item views, which the training on the cluster below learns from.
        ...(i % 3 === 1 ? { it: `item-${i % 4}` } : {}),
        ...ids
      }
    }
  })
}

t.test('the traffic report computed on a standalone cluster equals the local run', async t => {
  const hbase: Record<string, unknown> = { ...await freshTables('reports_cluster'), zookeeper_quorum: `127.0.0.1:${ZK_PORT}` }
  const reports = await reportsTable('reports', hbase)
  const daemon = await startDaemon({ hbase: { ...hbase, reports_table: reports }, reports: { master: 'local[2]', heap_mb: 768 } })
  t.teardown(async () => { await daemon.stop() })

  const from = Date.now()
  await sleep(5)
  const sent = events(120)
  for (const e of sent) {
    const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': e.ua }, body: JSON.stringify([e.body]) })
    if (res.status !== 204) throw new Error(`POST /e answered ${res.status}`)
  }
  await sleep(5)
  const to = Date.now()
  t.equal((await flushed(daemon)).metrics.eventsDelivered, sent.length, 'every event sent is stored')

  const dir = tempDir('spark-cluster')
  const cluster = await startSparkCluster({ dir })
  // The worker's work dirs hold a copy of the application jar per executor (40 MB each).
  t.teardown(async () => { await cluster.stop(); rmSync(dir, { recursive: true, force: true }) })

  const window = ['traffic', '--from', String(from), '--to', String(to), '--config', daemon.configPath]
  const local = await spoor(['report', 'run', ...window, '--json'])
  t.equal(local.code, 0, local.stderr)
  // The driver runs in the CLI's JVM; on loopback it must tell the executor 127.0.0.1, not the host name's address.
  const remote = await spoor(['report', 'run', ...window, '--json', '--force', '--master', cluster.master], { SPARK_LOCAL_IP: '127.0.0.1' })
  t.equal(remote.code, 0, remote.stderr)
  t.comment(`local[2]: ${local.ms} ms; standalone cluster (1 worker, 1 core): ${remote.ms} ms`)

  const { meta: localMeta, ...localSections } = JSON.parse(local.stdout)
  const { meta: remoteMeta, ...remoteSections } = JSON.parse(remote.stdout)
  t.ok(localSections.totals.events > 0 && localSections.totals.visitors > 1 && localSections.pages.length > 1, 'the local run counted something')
  t.same(remoteSections, localSections, 'the cluster stores the same report as the local run')
  t.not(remoteMeta.computedAt, localMeta.computedAt, '--force computed it again')
  const { computedAt: _a, ...localRest } = localMeta
  const { computedAt: _b, ...remoteRest } = remoteMeta
  t.same(remoteRest, localRest)
  const shown = await spoor(['report', 'show', ...window, '--json'])
  t.same(JSON.parse(shown.stdout).meta.computedAt, remoteMeta.computedAt, 'the stored row is the cluster\'s')

  // spark-submit, as on a Spark installation: the driver too has only Spark's jars and the application jar.
  const submitConfig = join(dir, 'submit.toml')
  writeFileSync(submitConfig, toml({ hbase: { ...hbase, reports_table: reports }, reports: { spark_submit: cluster.sparkSubmit } }, { data_dir: join(dir, 'data') }))
  const submitted = await spoor(['report', 'run', ...window.slice(0, -2), '--config', submitConfig, '--json', '--force', '--master', cluster.master], { SPARK_LOCAL_IP: '127.0.0.1' })
  t.equal(submitted.code, 0, submitted.stderr)
  t.comment(`spark-submit to the standalone cluster: ${submitted.ms} ms`)
  const { meta: submitMeta, ...submitSections } = JSON.parse(submitted.stdout)
  t.same(submitSections, localSections, 'spark-submit stores the same report as the local run')
  t.not(submitMeta.computedAt, remoteMeta.computedAt)

  // Training on the cluster: ALS over the tracked item views, checkpointing into a directory the driver and the
  // executor share (recommend.checkpoint_dir), written as a generation the server can load.
  const { recommend } = await freshRecommend('cluster_train')
  const trainConfig = join(dir, 'train.toml')
  writeFileSync(trainConfig, toml({ hbase: { ...hbase, reports_table: reports }, recommend: { ...recommend, rank: 2, iterations: 6, checkpoint_dir: join(dir, 'checkpoints') }, reports: { heap_mb: 768 } }, { data_dir: join(dir, 'train-data') }))
  const trained = await spoor(['recommend', 'train', '--config', trainConfig, '--master', cluster.master], { SPARK_LOCAL_IP: '127.0.0.1' })
  t.equal(trained.code, 0, trained.stderr)
  t.comment(`recommend train on the standalone cluster: ${trained.ms} ms`)
  const trainedConfig = loadConfig(trainConfig)
  const g = readGeneration(trainedConfig, generations(trainedConfig)[0])
  t.same(g.items, ['item-0', 'item-1', 'item-2', 'item-3'], 'every item viewed')
  const viewers = new Set(sent.filter(e => e.body.it !== undefined && e.body.uid !== 'crawler').map(e => e.body.uid))
  t.ok(g.users.length >= 2 && g.users.length <= viewers.size, `a vector per person who viewed an item (${g.users.length} of ${viewers.size} uids, logins joined)`)
  t.equal(g.userFactors.length, g.users.length * 2)
  t.ok(readdirSync(join(dir, 'checkpoints')).length > 0, 'ALS checkpointed into recommend.checkpoint_dir')

  // The jobs ran on the worker, not in the driver: the master took each application and the worker ran an executor for it.
  t.match(readFileSync(cluster.masterLog, 'utf8'), /Registering app spoor traffic/)
  t.match(readFileSync(cluster.masterLog, 'utf8'), /Registering app spoor train/)
  t.match(readFileSync(cluster.workerLog, 'utf8'), /Asked to launch executor app-/)
  const apps = readdirSync(join(dir, 'work')).filter(d => d.startsWith('app-'))
  t.equal(apps.length, 3, 'three applications ran on the worker: the CLI\'s report driver\'s, spark-submit\'s and the training\'s')
  for (const app of apps) t.match(readFileSync(join(dir, 'work', app, '0', 'stderr'), 'utf8'), /spoor-jobs-app\.jar/, 'the executor fetched the application jar')

  await cluster.stop()
  for (const g of cluster.groups) t.throws(() => process.kill(-g, 0), 'the master, the worker and the executors are gone')
})
