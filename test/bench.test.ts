// The benchmark harness, run briefly against the suite's HBase: every section runs, every contender answers, every
// event spoor answered reaches HBase, and the results, the page and the plots are written. No timing is checked.

import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { clientIpBench } from '../bench/client-ip'
import { CONNECTIONS } from '../bench/load'
import type { Results } from '../bench/report'
import { tempDir } from './fixtures/daemon'
import { SALT_BUCKETS, THRIFT_PORT, ZK_PORT } from './fixtures/hbase'

const ROOT = resolve(__dirname, '..', '..')

function runBench (out: string): Promise<{ code: number | null, stderr: string }> {
  return new Promise(resolvePromise => {
    const args = ['dist/bench/run.js', '--quick', '--hbase-port', String(THRIFT_PORT), '--zk-port', String(ZK_PORT), '--salt-buckets', String(SALT_BUCKETS), '--out', out]
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      resolvePromise({ code: err == null ? 0 : (err as { code?: number }).code ?? 1, stderr })
    })
  })
}

t.test('npm run bench -- --quick runs every section and writes its results', async t => {
  const out = tempDir('spoor-bench-smoke-')
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const { code, stderr } = await runBench(out)
  t.equal(code, 0, stderr.slice(-3000))
  const files = readdirSync(out)
  const json = files.find(f => f.endsWith('.json'))
  t.ok(json !== undefined, 'the results JSON is written')
  if (json === undefined) return
  const base = join(out, json.slice(0, -'.json'.length))
  const r = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as Results

  const contenders = (section: string): string[] => [...new Set(r.runs.filter(x => x.section === section).map(x => x.contender))].sort()
  t.same(contenders('pixel'), ['bare-uws', 'nginx', 'node-pino', 'spoor', 'spoor-no-flush', 'spoor-post-1', 'spoor-post-10', 'spoor-post-100'])
  t.same(contenders('scaling'), ['nginx-1w', 'nginx-2w', 'spoor-1t', 'spoor-2t'])
  for (const run of r.runs) {
    t.same(run.loads.map(l => l.generator), run.section === 'pixel' ? ['wrk', 'autocannon'] : ['wrk'], `${run.contender} is measured by each load generator`)
    t.equal(run.exitCode, 0, `${run.contender} exits cleanly`)
    for (const l of run.loads) {
      t.ok(l.requests > 0 && l.errors === 0, `${run.contender} (${l.generator}) answered ${l.requests} requests without errors`)
      if (l.flush !== undefined) t.ok(l.flush.deliveredAll, `${run.contender} (${l.generator}) delivered all ${l.flush.eventsDelivered} events to HBase`)
      if (run.contender.startsWith('spoor-post-') && l.collector !== undefined) {
        // Every request answered 204 had all its events accepted; a request still waiting for its commit when the
        // load generator stopped was accepted but not answered: at most one per connection.
        const n = Number(run.contender.slice('spoor-post-'.length))
        const { eventsAccepted, answered } = l.collector
        t.ok(eventsAccepted % n === 0 && eventsAccepted >= n * answered && eventsAccepted <= n * (answered + CONNECTIONS),
          `${run.contender} (${l.generator}) accepted ${eventsAccepted} events for ${answered} requests answered`)
      }
    }
  }
  t.ok(r.runs.some(x => x.contender === 'spoor' && x.loads.every(l => l.flush !== undefined)), 'the full pipeline waits for its flush')

  t.ok((r.outage?.samples.length ?? 0) >= 2, 'memory is sampled during the outage')
  t.ok((r.outage?.eventsBuffered ?? 0) > 0, 'the outage run buffered events')
  t.ok((r.lag?.probes ?? 0) > 0, 'lag probes were read back from HBase')
  t.equal(r.flush?.spoor.rowsUser, r.settings.flushEvents, 'spoor flushed every event to the by-user table')
  t.equal(r.flush?.java.rowsUser, r.settings.flushEvents, 'the Java BufferedMutator wrote every event')
  t.equal(r.buffer?.events, r.settings.bufferEvents)
  t.equal(r.handler?.eventsAccepted, r.settings.handlerCalls)
  t.equal(r.summary.targets.filter(x => x.met === null).length, 0, 'every target has a measurement')

  const page = readFileSync(`${base}.md`, 'utf8')
  for (const heading of ['## Targets', '## The pixel, one core each', '## Scaling', '## Memory during an HBase outage', '## End-to-end lag', '## Buffer', '## Flush', '## In-process pixel handler']) {
    t.ok(page.includes(heading), `the page has ${heading}`)
  }
  for (const plot of ['pixel-throughput', 'pixel-latency', 'scaling-throughput', 'scaling-latency']) {
    t.ok(existsSync(`${base}-${plot}.svg`), `the ${plot} plot is written`)
    t.ok(page.includes(`-${plot}.svg`), `the page shows the ${plot} plot`)
  }
})

t.test('bench/client-ip.ts times every case of clientIp', async t => {
  const result = clientIpBench(0.001)
  t.same(Object.keys(result.nsPerCall).length, 5)
  for (const [name, ns] of Object.entries(result.nsPerCall)) t.ok(Number.isFinite(ns) && ns >= 0, name)
  t.equal(result.command, 'node dist/bench/client-ip.js --scale 0.001')
})
