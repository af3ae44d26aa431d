// The servers pixel.ts compares, started pinned to the server core: bare uWS.js, spoor's full collector, and spoor without flush.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { GIF } from '../daemon/server'
import { HEADERS, PATH } from './request'
import { ROOT, shellLine } from './wrk'

export const SERVER_CORE = 0

/**
 * - bare-uws: the ceiling, bare uWS.js answering the same GIF.
 * - spoor: the full pipeline, flushing to the bench HBase while it answers.
 * - spoor-no-flush: the same daemon pointed at a closed HBase port, so that it answers, encodes and buffers but its
 *   flushes fail at once and back off; it splits spoor's cost into the request path and the flush.
 */
export const CONTENDERS = ['bare-uws', 'spoor', 'spoor-no-flush'] as const
export type ContenderName = typeof CONTENDERS[number]

/** Port 1 (tcpmux) is privileged and unused, so a connection to it is refused at once. */
const CLOSED_PORT = 1

export interface Health {
  buffer: { batches: number }
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

/** Pixels answered with the GIF so far, recorded or not. */
export function pixelsAnswered (h: Health): number {
  return h.metrics.requests.find(r => r.route === 'pixel' && r.status === 200)?.count ?? 0
}

export interface Running {
  pid: number
  port: number
  /** The command that started it, from the repository root. */
  command: string
  /** The CPUs the kernel lets it run on, from /proc/PID/status. */
  cpus: string
  /** SIGTERM, then the exit code once it has exited; SIGKILL after timeoutMs. */
  stop: (timeoutMs?: number) => Promise<number | null>
  /** Undefined while it runs; once it has exited unasked, how it ended, with its last output. */
  death: () => string | undefined
}

/** The bench HBase's Thrift2 gateway and the tables spoor writes to. */
export interface HBaseTarget {
  port: number
  userTable: string
  timeTable: string
  saltBuckets: number
}

async function startPinned (argv: string[]): Promise<Running> {
  const full = ['taskset', '-c', String(SERVER_CORE), ...argv]
  // taskset execs the server, so the child's pid is the server's.
  const child = spawn(full[0], full.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  const lastLines: string[] = []
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  let stopping = false
  let death: string | undefined
  const exited = once(child, 'exit')
  child.once('exit', (code, signal) => {
    if (!stopping) death = `${shellLine(full)} exited with code ${String(code)}, signal ${String(signal)}\nlast log lines:\n${lastLines.join('\n')}\nstderr:\n${stderr}`
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', () => reject(new Error(death)))
    createInterface({ input: child.stdout }).on('line', line => {
      lastLines.push(line.slice(0, 2000))
      if (lastLines.length > 20) lastLines.shift()
      let entry: { msg?: string, port?: number }
      try { entry = JSON.parse(line) } catch { return }
      if (entry.msg === 'listening' && typeof entry.port === 'number') resolve(entry.port)
    })
  })
  const pid = child.pid as number
  const cpus = /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?'
  return {
    pid,
    port,
    command: shellLine(full),
    cpus,
    death: () => death,
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

export async function startBare (): Promise<Running> {
  return await startPinned([process.execPath, 'dist/bench/bare-uws.js'])
}

/**
 * spoor's collector with its default batch and flush settings, a fresh data directory and the bench tables; one
 * serving thread, as it has one core; no admin listener, whose fixed port other spoor processes on the machine
 * may hold; and no drain wait on SIGTERM, as no load balancer needs telling.
 */
export function spoorConfig (dataDir: string, hbase: HBaseTarget, flush = true): string {
  return [
    `data_dir = ${JSON.stringify(dataDir)}`,
    '',
    '[server]',
    'host = "127.0.0.1"',
    'port = 0',
    'threads = 1',
    '',
    '[admin]',
    'enabled = false',
    '',
    '[shutdown]',
    'drain_seconds = 0',
    '',
    '[hbase]',
    'host = "127.0.0.1"',
    `port = ${flush ? hbase.port : CLOSED_PORT}`,
    `user_table = ${JSON.stringify(hbase.userTable)}`,
    `time_table = ${JSON.stringify(hbase.timeTable)}`,
    `salt_buckets = ${hbase.saltBuckets}`,
    '',
    '[batch]',
    'interval_ms = 5',
    '',
    '[flush]',
    'workers = 1',
    'in_flight = 2',
    '',
    '[log]',
    'level = "info"',
    ''
  ].join('\n')
}

export interface RunningSpoor extends Running {
  config: string
  health: () => Promise<Health>
  /** Resolves once nothing is left in memory, in the buffer or in flight, with the health seen then. */
  flushed: (timeoutMs?: number) => Promise<Health>
}

export async function startSpoor (hbase: HBaseTarget, flush: boolean): Promise<RunningSpoor> {
  const dataDir = mkdtempSync(join(tmpdir(), 'spoor-bench-data-'))
  const configPath = join(dataDir, 'spoor.toml')
  const config = spoorConfig(dataDir, hbase, flush)
  writeFileSync(configPath, config)
  const running = await startPinned([process.execPath, 'dist/daemon/cli.js', 'serve', '--config', configPath])
  const health = async (): Promise<Health> => await (await fetch(`http://127.0.0.1:${running.port}/healthz`)).json() as Health
  return {
    ...running,
    config,
    health,
    flushed: async (timeoutMs = 15 * 60000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const h = await health()
        if (h.batch.events === 0 && h.buffer.batches === 0 && h.flush.active === 0) return h
        if (Date.now() > deadline) throw new Error(`spoor's buffer was not flushed within ${timeoutMs} ms: ${JSON.stringify(h)}`)
        await sleep(100)
      }
    },
    stop: async (timeoutMs?: number) => {
      const code = await running.stop(timeoutMs)
      rmSync(dataDir, { recursive: true, force: true })
      return code
    }
  }
}

/** The headers that matter for the comparison; uWS adds the same Date and uWebSockets headers to both. */
export interface Answer {
  status: number
  contentType: string | null
  cacheControl: string | null
  setCookie: string | null
  bodyBytes: number
}

/**
 * Sends the benchmark's request once and checks the answer is spoor's GIF with no cookie, and the same as `other`'s
 * when given, so that both contenders do the same job.
 */
export async function checkAnswer (port: number, other?: Answer): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${PATH}`, { headers: HEADERS })
  const body = Buffer.from(await res.arrayBuffer())
  const answer = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    cacheControl: res.headers.get('cache-control'),
    setCookie: res.headers.get('set-cookie'),
    bodyBytes: body.length
  }
  if (res.status !== 200 || !body.equals(GIF) || answer.contentType !== 'image/gif' || answer.setCookie !== null) {
    throw new Error(`unexpected answer to the benchmark request: ${JSON.stringify(answer)}`)
  }
  if (other !== undefined && JSON.stringify(answer) !== JSON.stringify(other)) {
    throw new Error(`the contenders answer differently: ${JSON.stringify(answer)} and ${JSON.stringify(other)}`)
  }
  return answer
}
