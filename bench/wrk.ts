// Runs wrk on the load generator's core and reads its figures: totals and latency percentiles from bench/wrk-report.lua.

import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { HEADERS, PATH } from './request'

/** The repository root, where the commands run, so that the recorded commands can be pasted there. */
export const ROOT = resolve(__dirname, '..', '..')

export const LOAD_CORE = 1
export const CONNECTIONS = 64

export interface WrkResult {
  requests: number
  durationUs: number
  requestsPerSecond: number
  bytes: number
  errors: { connect: number, read: number, write: number, status: number, timeout: number }
  latencyUs: { min: number, mean: number, stdev: number, p50: number, p75: number, p90: number, p99: number, 'p99.9': number, max: number }
  /** wrk's own printout, kept for the record. */
  output: string
}

/** The argv of one wrk run against `port`: keep-alive, no pipelining, one thread, pinned to LOAD_CORE. */
export function wrkArgs (port: number | string, seconds: number, report: boolean): string[] {
  const headers = Object.entries(HEADERS).flatMap(([name, value]) => ['-H', `${name}: ${value}`])
  const script = report ? ['--latency', '-s', 'bench/wrk-report.lua'] : []
  return ['taskset', '-c', String(LOAD_CORE), 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, ...script, ...headers, `http://127.0.0.1:${port}${PATH}`]
}

/** A command line that a POSIX shell runs as the argv given. */
export function shellLine (argv: string[]): string {
  return argv.map(a => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`).join(' ')
}

function exec (argv: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(argv[0], argv.slice(1), { cwd: ROOT, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`${shellLine(argv)} failed: ${err.message}\n${stderr}`))
      else resolvePromise(stdout)
    })
  })
}

/** Load without measuring, so the server's JIT, allocators and connections are warm when the measured run starts. */
export async function warmUp (port: number, seconds: number): Promise<void> {
  await exec(wrkArgs(port, seconds, false))
}

export async function measure (port: number, seconds: number): Promise<WrkResult> {
  const output = await exec(wrkArgs(port, seconds, true))
  const line = output.split('\n').find(l => l.startsWith('WRK_JSON '))
  if (line === undefined) throw new Error(`wrk printed no WRK_JSON line:\n${output}`)
  const r = JSON.parse(line.slice('WRK_JSON '.length)) as Omit<WrkResult, 'requestsPerSecond' | 'output'>
  return { ...r, requestsPerSecond: Math.round(r.requests / (r.durationUs / 1e6)), output: output.replace(/^WRK_JSON .*\n/m, '') }
}
