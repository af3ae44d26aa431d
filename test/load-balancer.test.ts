// Behind the shipped load balancers: HAProxy and nginx with deploy/'s configs in front of two collectors, a rolling
// restart under load with no failed request and every answered event stored once, and what HTTP/1.0 and
// Host-less requests get from the balancers, the admin listener and the public port.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { HBaseClient } from '../daemon/hbase/client'
import { scanTimeRange } from '../daemon/hbase/reader'
import { rawRequest, startHAProxy, startNginx, DEPLOY, type Balancer } from './fixtures/balancers'
import { flushed, freePort, startDaemon, tempDir, until, type Daemon } from './fixtures/daemon'
import { client, freshTables, SALT_BUCKETS } from './fixtures/hbase'

/** spoor's default, which the shipped configs' timings are set against. */
const DRAIN_SECONDS = 5

/** A collector node that can be stopped and started again on the same port with the same buffer. */
class Node {
  daemon!: Daemon
  readonly dataDir = tempDir('lb')
  constructor (readonly port: number, readonly adminPort: number, readonly hbase: Record<string, unknown>) {}

  get address (): string { return `127.0.0.1:${this.port}` }

  async start (): Promise<void> {
    this.daemon = await startDaemon({
      hbase: this.hbase,
      server: { port: this.port, threads: 1, trusted_proxies: ['127.0.0.1'] },
      shutdown: { drain_seconds: DRAIN_SECONDS },
      admin: { enabled: true, port: this.adminPort },
      batch: { interval_ms: 5 }
    }, this.dataDir)
  }

  /** SIGTERM; resolves with the exit code and the time from the signal to the exit. */
  async stop (): Promise<{ code: number | null, ms: number }> {
    const started = Date.now()
    const code = await this.daemon.stop()
    return { code, ms: Date.now() - started }
  }
}

async function nodes (name: string): Promise<Node[]> {
  const hbase = await freshTables(name)
  const pair = [new Node(await freePort(), await freePort(), hbase), new Node(await freePort(), await freePort(), hbase)]
  await Promise.all(pair.map(async n => await n.start()))
  return pair
}

interface Load {
  /** Markers (`it`) of the events whose request was answered 2xx. */
  answered: string[]
  failures: string[]
  requests: number
  stop: () => Promise<void>
}

/**
 * Steady traffic through the balancer from `workers` clients on keep-alive connections: a pixel, then a POST of
 * three events, in turn, each event with a marker of its own. Paced, so that two cores also run HBase, two
 * collectors and the balancer.
 */
function load (url: string, workers = 4, pauseMs = 8): Load {
  const l: Load = { answered: [], failures: [], requests: 0, stop: async () => {} }
  let running = true
  let n = 0
  const one = async (w: number): Promise<void> => {
    const pixel = n++ % 2 === 0
    const markers = pixel ? [`m${n}`] : [`m${n}a`, `m${n}b`, `m${n}c`]
    try {
      const res = pixel
        ? await fetch(`${url}/p.gif?uid=lb-${w}&a=view&it=${markers[0]}`)
        : await fetch(`${url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(markers.map(it => ({ uid: `lb-${w}`, a: 'like', it }))) })
      await res.arrayBuffer()
      if (res.status === (pixel ? 200 : 204)) l.answered.push(...markers)
      else l.failures.push(`${pixel ? 'pixel' : 'POST'} ${res.status}`)
    } catch (err) {
      l.failures.push(`${pixel ? 'pixel' : 'POST'} ${(err as Error).message} ${String((err as { cause?: Error }).cause?.message)}`)
    }
    l.requests++
  }
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      await one(w)
      await new Promise(resolve => setTimeout(resolve, pauseMs))
    }
  })
  l.stop = async () => {
    running = false
    await Promise.all(loops)
  }
  return l
}

/** How many stored rows carry each marker, read from the by-time table. */
async function storedMarkers (hbase: Record<string, unknown>): Promise<Map<string, number>> {
  const c: HBaseClient = await client()
  try {
    const rows = await scanTimeRange(c, hbase.time_table as string, SALT_BUCKETS, 0, Date.now() + 60000, 10_000_000)
    const counts = new Map<string, number>()
    for (const row of rows) {
      const it = row.cells.it
      if (it !== undefined) counts.set(it, (counts.get(it) ?? 0) + 1)
    }
    return counts
  } finally {
    await c.close()
  }
}

/** Events the node has taken since it started: traffic reaches it, so the balancer counts it up again. */
async function servesTraffic (node: Node): Promise<boolean> {
  return ((await node.daemon.health()).metrics.eventsAccepted as number) > 0
}

async function rollingRestart (t: Test, name: string, startBalancer: (addresses: string[]) => Promise<Balancer>): Promise<void> {
  const pair = await nodes(name)
  const balancer = await startBalancer(pair.map(n => n.address))
  t.teardown(async () => {
    await balancer.stop()
    for (const n of pair) if (n.daemon.child.exitCode === null) await n.daemon.kill()
  })
  await until(`${name} to send traffic to both nodes`, async () => {
    await fetch(`${balancer.url}/p.gif?uid=warmup&a=view`).then(async r => await r.arrayBuffer(), () => {})
    return (await servesTraffic(pair[0])) && (await servesTraffic(pair[1]))
  }, 20000)

  const traffic = load(balancer.url)
  await until('traffic to flow', () => traffic.requests > 50, 10000)
  for (const node of pair) {
    const { code, ms } = await node.stop()
    t.equal(code, 0, `node ${node.address} exits 0 on SIGTERM`)
    t.ok(ms <= (DRAIN_SECONDS + 1) * 1000, `node ${node.address} exits within the drain plus a second (${ms} ms)`)
    await node.start()
    await until(`${name} to send traffic to the restarted node`, async () => await servesTraffic(node), 20000)
  }
  const before = traffic.requests
  await until('more traffic after the restarts', () => traffic.requests > before + 50, 10000)
  await traffic.stop()

  t.same(traffic.failures, [], `no request failed through ${name} (${traffic.requests} requests)`)
  for (const node of pair) await flushed(node.daemon)
  const stored = await storedMarkers(pair[0].hbase)
  const missing = traffic.answered.filter(m => stored.get(m) !== 1)
  t.same(missing.slice(0, 10), [], `every answered event is stored exactly once (${traffic.answered.length} events)`)
  t.equal([...stored.values()].filter(count => count > 1).length, 0, 'no event is stored twice')
}

t.test('HAProxy with deploy/haproxy.cfg: a rolling restart under load fails no request and loses nothing', async t => {
  await rollingRestart(t, 'haproxy', async addresses => await startHAProxy(addresses))
})

t.test('nginx with deploy/nginx.conf: a rolling restart under load fails no request and loses nothing', async t => {
  await rollingRestart(t, 'nginx', async addresses => await startNginx(addresses))
})

const GIF_HEAD = 'HTTP/1.1 200 OK'

t.test('HTTP/1.0 and Host-less requests get an answer through the shipped balancers', async t => {
  const pair = await nodes('lb_http10')
  const haproxy = await startHAProxy(pair.map(n => n.address))
  const nginx = await startNginx(pair.map(n => n.address))
  t.teardown(async () => {
    await haproxy.stop()
    await nginx.stop()
    await Promise.all(pair.map(async n => await n.daemon.stop()))
  })
  await until('HAProxy to count both nodes up', async () => (await fetch(`${haproxy.url}/healthz`)).status === 200, 20000)

  const pixel10 = 'GET /p.gif?uid=old-client&a=view&it=http10 HTTP/1.0\r\n\r\n'
  const viaNginx = await rawRequest(nginx.port, pixel10, 5000)
  t.ok(viaNginx.answered, 'nginx answers an HTTP/1.0 pixel')
  t.match(viaNginx.response, /^HTTP\/1\.1 200 OK\r\n[^]*Content-Type: image\/gif/i, 'with the GIF: nginx spoke HTTP/1.1 to spoor')
  t.match((await rawRequest(nginx.port, 'GET /healthz HTTP/1.0\r\n\r\n', 5000)).response, /^HTTP\/1\.1 200 /, 'and HTTP/1.0 health')
  t.match((await rawRequest(nginx.port, 'GET /p.gif?uid=x HTTP/1.1\r\n\r\n', 5000)).response, /^HTTP\/1\.1 400 /, 'HTTP/1.1 without Host gets 400 from nginx')

  const viaHAProxy = await rawRequest(haproxy.port, pixel10, 5000)
  t.ok(viaHAProxy.answered && viaHAProxy.ms < 1000, `HAProxy answers an HTTP/1.0 pixel at once (${viaHAProxy.ms} ms)`)
  t.match(viaHAProxy.response, /^HTTP\/1\.1 505 [^]*speaks HTTP\/1\.1/, 'with 505 and the reason: it passes the version on, which spoor cannot parse')
  const noHost = await rawRequest(haproxy.port, 'GET /p.gif?uid=x HTTP/1.1\r\n\r\n', 5000)
  t.ok(noHost.answered && noHost.ms < 1000, 'HAProxy answers HTTP/1.1 without Host at once')
  t.match(noHost.response, /^HTTP\/1\.1 400 /, 'with 400')
  t.match((await rawRequest(haproxy.port, 'GET /p.gif?uid=x&it=h11 HTTP/1.1\r\nHost: c\r\n\r\n', 5000)).response, GIF_HEAD, 'HTTP/1.1 with Host is served')

  await Promise.all(pair.map(async n => await flushed(n.daemon)))
  t.equal((await storedMarkers(pair[0].hbase)).get('http10'), 1, 'the HTTP/1.0 pixel through nginx is stored')
})

t.test('the admin listener answers a balancer\'s stock HTTP/1.0 check; the public port speaks HTTP/1.1 only', async t => {
  const pair = await nodes('lb_admin')
  t.teardown(async () => { await Promise.all(pair.map(async n => await n.daemon.stop())) })
  const admin = pair[0].adminPort
  const h10 = await rawRequest(admin, 'GET /healthz HTTP/1.0\r\n\r\n', 2000)
  t.ok(h10.answered, 'GET /healthz HTTP/1.0 without Host is answered on the admin port')
  t.match(h10.response, /^HTTP\/1\.1 200 OK\r\n[^]*"status":"ok"/)
  t.match((await rawRequest(admin, 'HEAD /healthz HTTP/1.0\r\n\r\n', 2000)).response, /^HTTP\/1\.1 200 OK\r\n/, 'HEAD too')
  t.match((await rawRequest(admin, 'GET /healthz HTTP/1.1\r\n\r\n', 2000)).response, /^HTTP\/1\.1 400 /, 'HTTP/1.1 without Host gets 400')
  t.match((await rawRequest(admin, 'GET /healthz HTTP/1.1\r\nHost: n\r\n\r\n', 2000)).response, /^HTTP\/1\.1 200 /, 'HTTP/1.1 with Host gets 200')

  // HAProxy's stock check, `option httpchk GET /healthz` (HTTP/1.0, no Host), against the admin port, as the
  // operations guide shows it: both nodes are counted up and traffic flows.
  const haproxy = await startHAProxy(pair.map(n => n.address), text => {
    return text
      .replace(/ {4}http-check send .*\n/, '')
      .replace('    option httpchk\n', '    option httpchk GET /healthz\n')
      .replace('10.0.0.11:8800 check ', `10.0.0.11:8800 check port ${pair[0].adminPort} `)
      .replace('10.0.0.12:8800 check ', `10.0.0.12:8800 check port ${pair[1].adminPort} `)
  })
  t.teardown(async () => await haproxy.stop())
  t.match(haproxy.config, /option httpchk GET \/healthz\n/)
  t.match(haproxy.config, new RegExp(`check port ${pair[1].adminPort} `))
  await until('HAProxy\'s stock check to count both nodes up', async () => {
    await fetch(`${haproxy.url}/p.gif?uid=stock&a=view`).then(async r => await r.arrayBuffer(), () => {})
    return (await servesTraffic(pair[0])) && (await servesTraffic(pair[1]))
  }, 20000)
  t.pass('both nodes serve through HAProxy with the stock HTTP/1.0 check on the admin port')

  // The public port: uWebSockets.js does not parse HTTP/1.0, nor HTTP/1.1 without Host; it answers nothing and
  // closes the connection at its 10 s idle timeout, as docs/operations.md says.
  const [old, noHost] = await Promise.all([
    rawRequest(pair[0].port, 'GET /healthz HTTP/1.0\r\n\r\n', 15000),
    rawRequest(pair[0].port, 'GET /healthz HTTP/1.1\r\n\r\n', 15000)
  ])
  for (const [what, r] of [['HTTP/1.0', old], ['HTTP/1.1 without Host', noHost]] as const) {
    t.equal(r.response, '', `the public port does not answer ${what}`)
    t.ok(r.closed && r.ms >= 9000, `and closes it at the idle timeout (${r.ms} ms)`)
  }
})

t.test('the admin listener refuses peers outside admin.allow', async t => {
  const hbase = await freshTables('lb_allow')
  const adminPort = await freePort()
  const daemon = await startDaemon({ hbase, admin: { enabled: true, port: adminPort, allow: ['10.0.0.0/8', 'fd00::/8'] } })
  t.teardown(async () => await daemon.stop())
  const res = await fetch(`http://127.0.0.1:${adminPort}/healthz`)
  t.equal(res.status, 403)
  t.same(await res.json(), { error: { code: 'SPOOR_E_ADMIN_FORBIDDEN', message: 'the admin listener answers only the addresses in admin.allow' } })
  t.equal((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status, 403, '/metrics too')
})

t.test('the configs in docs/operations.md are the files in deploy/', async t => {
  const ops = readFileSync(join(DEPLOY, '..', 'docs', 'operations.md'), 'utf8')
  for (const file of ['haproxy.cfg', 'nginx.conf']) {
    const text = readFileSync(join(DEPLOY, file), 'utf8')
    t.ok(ops.includes('```\n' + text + '```\n'), `docs/operations.md shows deploy/${file} whole`)
  }
})
