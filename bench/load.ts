// The load generators: wrk (little CPU per request, so it is rarely the limit) and autocannon (what spoor's users
// run), each pinned to the given cores, and their figures read into one shape.

import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Percentiles } from './handler'
import { HEADERS, PATH, postBody } from './request'

/** The repository root, where the commands run, so that the recorded commands can be pasted there. */
export const ROOT = resolve(__dirname, '..', '..')

export const CONNECTIONS = 64

export type Generator = 'wrk' | 'autocannon'

/** What every request of a run is: the pixel, or a POST of a batch of events. */
export interface Workload {
  name: string
  method: 'GET' | 'POST'
  path: string
  headers: Readonly<Record<string, string>>
  /** The POST body, written to a file the generators read. */
  body?: string
  eventsPerRequest: number
}

export const PIXEL: Workload = { name: 'pixel', method: 'GET', path: PATH, headers: HEADERS, eventsPerRequest: 1 }

export function postWorkload (events: number): Workload {
  return {
    name: `post-${events}`,
    method: 'POST',
    path: '/e',
    headers: { ...HEADERS, 'Content-Type': 'application/json' },
    body: postBody(events),
    eventsPerRequest: events
  }
}

/** Latency percentiles in µs, as the handler timing reports them. */
export type LatencyUs = Percentiles

export interface LoadResult {
  generator: Generator
  command: string
  requests: number
  durationUs: number
  requestsPerSecond: number
  eventsPerSecond: number
  /** Socket errors, timeouts and answers other than 2xx, together. */
  errors: number
  /** Requests answered 2xx, where the generator counts them apart (autocannon). */
  answered2xx?: number
  /** Latency percentiles in µs; autocannon measures in whole milliseconds, so its figures are multiples of 1000. */
  latencyUs: LatencyUs
  /** The generator's own printout, kept for the record. */
  output: string
}

/** A command line that a POSIX shell runs as the argv given. */
export function shellLine (argv: string[]): string {
  // $ is left bare, so that placeholders such as $PORT read as shell variables.
  return argv.map(a => /^[\w@%+=:,./$-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`).join(' ')
}

function exec (argv: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(argv[0], argv.slice(1), { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`${shellLine(argv)} failed: ${err.message}\n${stderr}`))
      else resolvePromise(stdout)
    })
  })
}

/** Writes the POST body where the generators read it: a file per workload in `dir`. */
export function bodyFile (workload: Workload, dir: string): string | undefined {
  if (workload.body === undefined) return undefined
  const path = join(dir, `${workload.name}.json`)
  writeFileSync(path, workload.body)
  return path
}

const headerArgs = (w: Workload): string[] => Object.entries(w.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`])

/**
 * The argv of one wrk run: keep-alive, no pipelining, one thread. bench/wrk.lua sends the POST body named by
 * SPOOR_BENCH_BODY and prints the figures as one JSON line.
 */
export function wrkArgs (port: number | string, w: Workload, seconds: number, cpus: string, connections = CONNECTIONS): string[] {
  return ['taskset', '-c', cpus, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', 'bench/wrk.lua', ...headerArgs(w), `http://127.0.0.1:${port}${w.path}`]
}

/**
 * Pacing for autocannon: a fixed overall rate over fewer connections, for the lag measurement. `uniqueIds` (-I)
 * replaces `[<id>]` in the path with an id of its own in every request, so that stored events can be told apart.
 */
export interface Paced { rate: number, connections: number, uniqueIds?: boolean }

/** The argv of one autocannon run, with the same connections as wrk and no pipelining, unless paced. */
export function autocannonArgs (port: number | string, w: Workload, seconds: number, cpus: string, body?: string, paced?: Paced): string[] {
  const post = w.method === 'POST' ? ['-m', 'POST', '-i', body ?? '$BODY_FILE'] : []
  const rate = paced === undefined ? [] : ['--overallRate', String(paced.rate), ...(paced.uniqueIds === true ? ['-I'] : [])]
  const connections = String(paced?.connections ?? CONNECTIONS)
  return ['taskset', '-c', cpus, 'node_modules/.bin/autocannon', '-c', connections, '-d', String(seconds), ...rate, '-j', ...post, ...headerArgs(w), `http://127.0.0.1:${port}${w.path}`]
}

export async function runWrk (port: number, w: Workload, seconds: number, cpus: string, body?: string, connections = CONNECTIONS): Promise<LoadResult> {
  const argv = wrkArgs(port, w, seconds, cpus, connections)
  const output = await exec(argv, body === undefined ? undefined : { SPOOR_BENCH_BODY: body })
  const line = output.split('\n').find(l => l.startsWith('WRK_JSON '))
  if (line === undefined) throw new Error(`wrk printed no WRK_JSON line:\n${output}`)
  const r = JSON.parse(line.slice('WRK_JSON '.length)) as {
    requests: number
    durationUs: number
    errors: Record<'connect' | 'read' | 'write' | 'status' | 'timeout', number>
    latencyUs: LatencyUs
  }
  const requestsPerSecond = Math.round(r.requests / (r.durationUs / 1e6))
  const e = r.errors
  return {
    generator: 'wrk',
    command: (body === undefined ? '' : `SPOOR_BENCH_BODY=${w.name}.json `) + shellLine(wrkArgs('$PORT', w, seconds, cpus, connections)),
    requests: r.requests,
    durationUs: r.durationUs,
    requestsPerSecond,
    eventsPerSecond: requestsPerSecond * w.eventsPerRequest,
    errors: e.connect + e.read + e.write + e.status + e.timeout,
    latencyUs: r.latencyUs,
    output: output.replace(/^WRK_JSON .*\n/m, '')
  }
}

interface AutocannonJson {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  '2xx': number
  latency: { p50: number, p90: number, p99: number, p99_9: number, max: number, mean: number }
  requests: { total: number }
}

export async function runAutocannon (port: number, w: Workload, seconds: number, cpus: string, body?: string, paced?: Paced): Promise<LoadResult> {
  const output = await exec(autocannonArgs(port, w, seconds, cpus, body, paced))
  const r = JSON.parse(output) as AutocannonJson
  const requests = r.requests.total
  const requestsPerSecond = Math.round(requests / r.duration)
  const l = r.latency
  return {
    generator: 'autocannon',
    command: shellLine(autocannonArgs('$PORT', w, seconds, cpus, body === undefined ? undefined : `${w.name}.json`, paced)),
    requests,
    durationUs: Math.round(r.duration * 1e6),
    requestsPerSecond,
    eventsPerSecond: requestsPerSecond * w.eventsPerRequest,
    errors: r.errors + r.timeouts + r.non2xx,
    answered2xx: r['2xx'],
    latencyUs: { p50: l.p50 * 1000, p90: l.p90 * 1000, p99: l.p99 * 1000, 'p99.9': l.p99_9 * 1000, max: l.max * 1000, mean: Math.round(l.mean * 1000) },
    output: output.length > 4000 ? `${output.slice(0, 4000)}…` : output
  }
}

/** Load without measuring, so that the server's JIT, allocators and connections are warm when the measured run starts. */
export async function warmUp (port: number, w: Workload, seconds: number, cpus: string, body?: string): Promise<void> {
  await runWrk(port, w, seconds, cpus, body)
}
