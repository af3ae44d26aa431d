// The seed's pipeline as a bench contender (bench/flume.ts), run briefly against the suite's HBase: nginx + Flume and
// spoor both store every request they answered, the kill runs' counts add up, and the results are written. No timing
// is checked.

import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import type { FlumeResult, KillResult } from '../bench/flume'
import { tempDir } from './fixtures/daemon'
import { SALT_BUCKETS, THRIFT_PORT, ZK_PORT } from './fixtures/hbase'

const ROOT = resolve(__dirname, '..', '..')
/** autocannon's connections in bench/flume.ts: answers still on their way when it stops are stored but not counted. */
const IN_FLIGHT = 8

function runFlumeBench (out: string): Promise<{ code: number | null, stderr: string }> {
  return new Promise(resolvePromise => {
    const args = ['dist/bench/flume.js', '--quick', '--hbase-port', String(THRIFT_PORT), '--zk-port', String(ZK_PORT), '--salt-buckets', String(SALT_BUCKETS), '--out', out]
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      resolvePromise({ code: err == null ? 0 : (err as { code?: number }).code ?? 1, stderr })
    })
  })
}

t.test('node dist/bench/flume.js --quick measures the seed\'s pipeline and spoor and writes its results', async t => {
  const out = tempDir('spoor-bench-flume-')
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const { code, stderr } = await runFlumeBench(out)
  t.equal(code, 0, stderr.slice(-3000))
  const json = readdirSync(out).find(f => f.endsWith('-flume.json'))
  t.ok(json !== undefined, 'the results JSON is written')
  if (json === undefined) return
  const r = JSON.parse(readFileSync(join(out, json), 'utf8')) as FlumeResult

  for (const [name, p] of [['seed', r.seed], ['spoor', r.spoor]] as const) {
    const s = p.steady
    t.ok(s.answered > 0 && s.lag.probes > 0, `${name}: ${s.answered} requests answered, ${s.lag.probes} of them probes read back from HBase`)
    t.ok(s.delivered >= s.answered && s.delivered <= s.answered + IN_FLIGHT, `${name}: every request answered is stored (${s.delivered} events for ${s.answered} answers)`)
    t.ok(s.rows >= s.delivered, `${name}: ${s.rows} rows hold the ${s.delivered} events`)
    t.ok(s.cpuSeconds > 0 && s.cpuUsPerEvent > 0, `${name}: its processes used CPU (${s.cpuSeconds} s)`)
  }
  t.same(Object.keys(r.seed.steady.cpuByProcess), ['nginx', 'flume'], 'the seed\'s CPU counts nginx and the Flume JVM')
  t.equal(r.spoor.steady.rows, r.spoor.steady.delivered, 'spoor stores each event once')

  const consistent = (name: string, k: KillResult): void => {
    t.equal(k.stored + k.lost - k.storedUnanswered, k.answered, `${name}, ${k.killed} killed: answered = stored + lost − stored unanswered`)
    t.equal(k.rows - k.duplicated, k.stored, `${name}, ${k.killed} killed: rows = stored + duplicated`)
    // One request per connection in flight at the kill, and one when the load stopped.
    t.ok(k.storedUnanswered <= 2 * IN_FLIGHT, `${name}, ${k.killed} killed: at most two stored events per connection were not answered (${k.storedUnanswered})`)
  }
  t.same(r.seed.kills.map(k => k.killed), ['nginx', 'flume'])
  t.same(r.spoor.kills.map(k => k.killed), ['spoor'])
  for (const k of r.seed.kills) consistent('seed', k)
  for (const k of r.spoor.kills) consistent('spoor', k)
  const [nginx, flume] = r.seed.kills
  t.equal(nginx.stored, nginx.logged, 'after nginx is killed, Flume stores every line nginx had written: the loss is what nginx still held')
  t.equal(nginx.lost, Math.max(0, nginx.answered - (nginx.logged ?? 0)), 'what the seed lost is what nginx answered and never logged')
  t.equal(flume.lost, 0, 'a killed Flume agent loses nothing: the position file and the file channel hold it')
  t.equal(r.spoor.kills[0].duplicated, 0, 'a killed spoor stores nothing twice: a replayed batch rewrites the same rows')

  t.ok(r.cpuRatio > 0 && r.lagP99Ratio > 0, 'both ratios are measured')
  const page = readFileSync(join(out, json.replace(/\.json$/, '.md')), 'utf8')
  for (const text of ['seed: nginx + Flume', 'CPU µs per delivered event', 'less CPU per delivered event', 'lag p99', '| seed | nginx |', '| seed | flume |', '| spoor | spoor |']) {
    t.ok(page.includes(text), `the page shows ${text}`)
  }
})
