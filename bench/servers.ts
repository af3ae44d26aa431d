// The servers the benchmark compares, each started pinned to the cores given: bare uWS.js, nginx empty_gif with an
// access log, a plain Node server logging with pino, and spoor itself.

import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { GIF } from '../daemon/http/intake'
import { freePort } from '../daemon/pipeline/collector'
import { ROOT, shellLine, type Workload } from './load'
import { processTicks } from './proc'

/** Port 1 (tcpmux) is privileged and unused, so a connection to it is refused at once. */
const CLOSED_PORT = 1

export interface Running {
  /** The process the benchmark started; for nginx, the master. */
  pid: number
  port: number
  /** The command that started it, from the repository root. */
  command: string
  /** The CPUs the kernel lets it run on, from /proc/PID/status. */
  cpus: string
  /** utime + stime of the server's processes (nginx's workers included) in clock ticks. */
  cpuTicks: () => number
  /** Resident memory of the server's processes, in bytes. */
  rssBytes: () => number
  /**
   * Their anonymous resident memory: RSS without mapped files. spoor's RSS also counts the pages of the LMDB
   * buffer's memory map that it touched, which are the kernel's page cache.
   */
  anonBytes: () => number
  /** SIGTERM, then the exit code once it has exited; SIGKILL after timeoutMs. */
  stop: (timeoutMs?: number) => Promise<number | null>
  /** Undefined while it runs; once it has exited unasked, how it ended, with its last output. */
  death: () => string | undefined
}

/** The server's process and its children (nginx's workers), read from /proc. */
export function processTree (pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(s => s !== '').map(Number)
  return [pid, ...children.flatMap(processTree)]
}

/** A process's resident memory in bytes: all of it (`VmRSS`), or only its anonymous memory (`RssAnon`). */
export function rssOf (pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const kib = new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kib ?? 0) * 1024
}

export interface Started {
  pid: number
  command: string
  stop: (timeoutMs?: number) => Promise<number | null>
  death: () => string | undefined
  lines: (onLine: (line: string) => void) => void
}

export function startPinned (cpus: string, argv: string[]): Started {
  const full = ['taskset', '-c', cpus, ...argv]
  // taskset execs the server, so the child's pid is the server's.
  const child = spawn(full[0], full.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  const lastLines: string[] = []
  const listeners: Array<(line: string) => void> = []
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  createInterface({ input: child.stdout }).on('line', line => {
    lastLines.push(line.slice(0, 2000))
    if (lastLines.length > 20) lastLines.shift()
    for (const l of listeners) l(line)
  })
  let stopping = false
  let death: string | undefined
  const exited = once(child, 'exit')
  child.once('exit', (code, signal) => {
    if (!stopping) death = `${shellLine(full)} exited with code ${String(code)}, signal ${String(signal)}\nlast output:\n${lastLines.join('\n')}\nstderr:\n${stderr}`
  })
  return {
    pid: child.pid as number,
    command: shellLine(full),
    death: () => death,
    lines: onLine => { listeners.push(onLine) },
    stop: async (timeoutMs = 60000) => {
      stopping = true
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const [code] = await exited
      clearTimeout(killer)
      return code as number | null
    }
  }
}

export function running (s: Started, port: number, cleanup?: () => void): Running {
  const cpus = /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))?.[1] ?? '?'
  return {
    pid: s.pid,
    port,
    command: s.command,
    cpus,
    cpuTicks: () => processTree(s.pid).reduce((n, pid) => n + processTicks(pid), 0),
    rssBytes: () => processTree(s.pid).reduce((n, pid) => n + rssOf(pid), 0),
    anonBytes: () => processTree(s.pid).reduce((n, pid) => n + rssOf(pid, 'RssAnon'), 0),
    death: s.death,
    stop: async (timeoutMs?: number) => {
      const code = await s.stop(timeoutMs)
      cleanup?.()
      return code
    }
  }
}

/** Starts a server that prints {"msg":"listening","port":N} on stdout when it is ready, as spoor and bench/*.js do. */
async function startLogging (cpus: string, argv: string[], cleanup?: () => void): Promise<Running> {
  const s = startPinned(cpus, argv)
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => { if (s.death() !== undefined) reject(new Error(s.death())) }, 50)
    s.lines(line => {
      let entry: { msg?: string, port?: number }
      try { entry = JSON.parse(line) } catch { return }
      if (entry.msg === 'listening' && typeof entry.port === 'number') {
        clearInterval(timer)
        resolve(entry.port)
      }
    })
  })
  return running(s, port, cleanup)
}

/** Resolves once something accepts connections on the port. */
async function accepting (port: number, s: Started, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    const death = s.death()
    if (death !== undefined) throw new Error(death)
    if (Date.now() > deadline) throw new Error(`${s.command} did not accept connections on ${port} within ${timeoutMs} ms`)
    await sleep(20)
  }
}

export async function startBare (cpus: string, nodeFlags: string[] = []): Promise<Running> {
  return await startLogging(cpus, [process.execPath, ...nodeFlags, 'dist/bench/bare-uws.js'])
}

export async function startNodePino (cpus: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-bench-node-'))
  return await startLogging(cpus, [process.execPath, 'dist/bench/node-pino.js', '--log', join(dir, 'access.log')], () => rmSync(dir, { recursive: true, force: true }))
}

/**
 * nginx's config for the comparison: `empty_gif` at /p.gif with the same Cache-Control as spoor, and a buffered
 * access log of the fields spoor stores (time, client address, the query, User-Agent, Referer, the uid cookie).
 */
export function nginxConfig (dir: string, port: number | string, workers: number): string {
  return `# spoor's benchmark: nginx empty_gif with a buffered access log, as a tracking pixel is served without spoor.
worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 4096;
}
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  log_format pixel '$msec $remote_addr "$request_uri" "$http_user_agent" "$http_referer" "$cookie_sp_uid"';
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} reuseport;
    location = /p.gif {
      empty_gif;
      add_header Cache-Control "no-store, no-cache, must-revalidate, max-age=0";
      access_log ${dir}/access.log pixel buffer=64k flush=1s;
    }
  }
}
`
}

export function nginxVersion (): string {
  // nginx -v prints its version on stderr.
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' })
  return r.error === undefined ? `${r.stderr}${r.stdout}`.trim() : 'nginx not found'
}

export interface NginxOptions {
  /** Its directory (config, pid file, `access.log`), kept when it stops; default a fresh one, removed when it stops. */
  dir?: string
  /** Default a free port. With `dir`, a restart of an nginx that was killed: it appends to the same access log. */
  port?: number
}

/** nginx with `workers` worker processes; the master and its workers all run on `cpus`. */
export async function startNginx (cpus: string, workers: number, o: NginxOptions = {}): Promise<Running & { config: string, dir: string }> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'spoor-bench-nginx-'))
  const port = o.port ?? await freePort()
  const config = nginxConfig(dir, port, workers)
  writeFileSync(join(dir, 'nginx.conf'), config)
  // -e: its own error log from the start, before the config is read; -p: its own prefix for the other paths.
  const s = startPinned(cpus, ['nginx', '-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')])
  try {
    await accepting(port, s)
  } catch (err) {
    await s.stop(2000)
    throw err
  }
  const server = running(s, port, o.dir !== undefined ? undefined : () => rmSync(dir, { recursive: true, force: true }))
  // nginx's master stops its workers on SIGTERM; wait until they have written their access log buffers.
  return { ...server, dir, config: nginxConfig('$DIR', '$PORT', workers) }
}

/** The bench HBase's Thrift2 gateway and the tables spoor writes to. */
export interface HBaseTarget {
  port: number
  userTable: string
  timeTable: string
  saltBuckets: number
}

export interface SpoorOptions {
  /** Serving threads (server.threads). */
  threads: number
  /** false: HBase on a closed port, so that flushes are refused at once and back off, costing next to nothing. */
  flush: boolean
  /** node's own options, before the script: `--perf-basic-prof` for bench/profile.ts. */
  nodeFlags?: string[]
  /** batch.interval_ms, when not the default. */
  batchIntervalMs?: number
  /** Default a free port chosen by spoor. */
  port?: number
  /**
   * Its data directory; default a fresh one, removed when it stops. With `port`, a restart of a spoor that was
   * killed: it opens the same buffer and flushes what is left in it.
   */
  dataDir?: string
}

/**
 * spoor's collector with its default batch and flush settings, a fresh data directory and the bench tables; no
 * admin listener, whose fixed port other spoor processes on the machine may hold; and no drain wait on SIGTERM, as
 * no load balancer needs telling.
 */
export function spoorConfig (dataDir: string, hbase: HBaseTarget, o: SpoorOptions): string {
  return [
    `data_dir = ${JSON.stringify(dataDir)}`,
    '',
    '[server]',
    'host = "127.0.0.1"',
    `port = ${o.port ?? 0}`,
    `threads = ${o.threads}`,
    '',
    '[admin]',
    'enabled = false',
    '',
    '[shutdown]',
    'drain_seconds = 0',
    '',
    '[hbase]',
    'host = "127.0.0.1"',
    `port = ${o.flush ? hbase.port : CLOSED_PORT}`,
    `user_table = ${JSON.stringify(hbase.userTable)}`,
    `time_table = ${JSON.stringify(hbase.timeTable)}`,
    `salt_buckets = ${hbase.saltBuckets}`,
    '',
    // With the flush off, the buffer only grows: a POST run passes the 1 GiB high-water mark in seconds and would
    // measure spoor's backpressure (503) instead of what it takes. Raised for those runs only.
    ...(o.flush ? [] : ['[buffer]', `high_water_bytes = ${32 * 2 ** 30}`, `max_bytes = ${48 * 2 ** 30}`, '']),
    ...(o.batchIntervalMs === undefined ? [] : ['[batch]', `interval_ms = ${o.batchIntervalMs}`, '']),
    '[log]',
    'level = "info"',
    ''
  ].join('\n')
}

export interface Health {
  buffer: { batches: number, bytes: number }
  batch: { events: number }
  flush: { active: number }
  metrics: {
    eventsAccepted: number
    eventsDelivered: number
    eventsDropped: number
    rejected: Record<string, number>
    requests: Array<{ route: string, status: number, count: number }>
  }
}

/** Requests answered with success on a route so far: the GIF for pixels, 204 for POST /e. */
export function answered (h: Health, route: 'pixel' | 'events'): number {
  const status = route === 'pixel' ? 200 : 204
  return h.metrics.requests.find(r => r.route === route && r.status === status)?.count ?? 0
}

export interface RunningSpoor extends Running {
  config: string
  dataDir: string
  health: () => Promise<Health>
  /** Resolves once nothing is left in memory, in the buffer or in flight, with the health seen then. */
  flushed: (timeoutMs?: number) => Promise<Health>
  /** Bytes of the data directory on disk: the LMDB buffer. */
  diskBytes: () => number
}

function duBytes (dir: string): number {
  let n = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    // LMDB's file is sparse; count the blocks it uses, not its mapped size.
    if (entry.isFile()) n += statSync(join(entry.parentPath, entry.name)).blocks * 512
  }
  return n
}

export async function startSpoor (cpus: string, hbase: HBaseTarget, o: SpoorOptions): Promise<RunningSpoor> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'spoor-bench-data-'))
  const configPath = join(dataDir, 'spoor.toml')
  const config = spoorConfig(dataDir, hbase, o)
  writeFileSync(configPath, config)
  const server = await startLogging(cpus, [process.execPath, ...(o.nodeFlags ?? []), 'dist/daemon/cli.js', 'serve', '--config', configPath], o.dataDir !== undefined ? undefined : () => rmSync(dataDir, { recursive: true, force: true }))
  const health = async (): Promise<Health> => await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json() as Health
  return {
    ...server,
    config,
    dataDir,
    health,
    diskBytes: () => duBytes(join(dataDir, 'buffer')),
    flushed: async (timeoutMs = 15 * 60000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const h = await health()
        if (h.batch.events === 0 && h.buffer.batches === 0 && h.flush.active === 0) return h
        if (Date.now() > deadline) throw new Error(`spoor's buffer was not flushed within ${timeoutMs} ms: ${JSON.stringify(h)}`)
        await sleep(100)
      }
    }
  }
}

/** The headers that matter for the comparison. */
export interface Answer {
  status: number
  contentType: string | null
  cacheControl: string | null
  setCookie: string | null
  bodyBytes: number
}

/**
 * Sends the workload's request once and checks the answer: for the pixel, spoor's GIF with no cookie, the same as
 * `other`'s when given, so that every contender does the same job; for a POST, 204.
 */
export async function checkAnswer (port: number, w: Workload, other?: Answer): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${w.path}`, { method: w.method, headers: w.headers, body: w.body })
  const body = Buffer.from(await res.arrayBuffer())
  const answer = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    cacheControl: res.headers.get('cache-control'),
    setCookie: res.headers.get('set-cookie'),
    bodyBytes: body.length
  }
  // nginx's empty_gif is a 43-byte 1×1 GIF too, but not byte for byte spoor's, so the body is compared by size and signature.
  const gif = body.length === GIF.length && body.subarray(0, 6).equals(GIF.subarray(0, 6))
  const expected = w.method === 'GET'
    ? res.status === 200 && gif && answer.contentType === 'image/gif' && answer.setCookie === null
    : res.status === 204 && answer.setCookie === null
  if (!expected) throw new Error(`unexpected answer to the ${w.name} request: ${JSON.stringify(answer)} ${body.toString().slice(0, 200)}`)
  if (other !== undefined && JSON.stringify(answer) !== JSON.stringify(other)) {
    throw new Error(`the contenders answer differently: ${JSON.stringify(answer)} and ${JSON.stringify(other)}`)
  }
  return answer
}
