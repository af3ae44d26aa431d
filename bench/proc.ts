// What the benchmarks read from Linux: a process's CPU time, each core's busy and steal time, the load average and the machine.

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, hostname, release, totalmem } from 'node:os'

/** Clock ticks per second, the unit of /proc's CPU times. */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())

/** utime + stime of a process in clock ticks, summed over all its threads (worker threads included). */
export function processTicks (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name, field 2, may hold spaces and parentheses; the fields after its last ')' are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

export interface CoreTicks {
  busy: number
  steal: number
  total: number
}

/** Per-core ticks from /proc/stat: busy (user, nice, system, irq, softirq), steal (time the hypervisor gave elsewhere), total. */
export function coreTicks (): CoreTicks[] {
  const cores: CoreTicks[] = []
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line)
    if (m == null) continue
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].trim().split(/\s+/).map(Number)
    cores[Number(m[1])] = { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal }
  }
  return cores
}

/** Each core's share of the interval that was busy and stolen, in percent. */
export function coreUse (before: CoreTicks[], after: CoreTicks[]): Array<{ busyPct: number, stealPct: number }> {
  return after.map((a, i) => {
    const total = a.total - before[i].total || 1
    return { busyPct: round1(100 * (a.busy - before[i].busy) / total), stealPct: round1(100 * (a.steal - before[i].steal) / total) }
  })
}

/** The 1, 5 and 15 minute load averages. */
export function loadAverage (): [number, number, number] {
  const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number)
  return [one, five, fifteen]
}

export function round1 (n: number): number {
  return Math.round(n * 10) / 10
}

function version (command: string, args: string[]): string {
  try {
    // wrk prints its version with a usage message and exits 1, so read its output either way.
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim()
  } catch (err) {
    const e = err as { stdout?: string, stderr?: string }
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n')[0].trim()
  }
}

export interface Machine {
  hostname: string
  cpuModel: string
  cores: number
  /** The CPU flags include `hypervisor`: a virtual machine, whose cores are shared with its host's other guests. */
  virtualized: boolean
  memoryMiB: number
  kernel: string
  node: string
  wrk: string
  uws: string
}

export function machine (): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const uwsPackage = JSON.parse(readFileSync(require.resolve('uWebSockets.js/package.json'), 'utf8')) as { name: string, version: string }
  return {
    hostname: hostname(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    cores: cpus().length,
    virtualized: /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo),
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    kernel: release(),
    node: process.version,
    wrk: version('wrk', ['-v']),
    uws: `${uwsPackage.name}@${uwsPackage.version}`
  }
}

/** Share of all cores busy over `ms`, in percent. */
export async function machineBusyPct (ms: number): Promise<number> {
  const before = coreTicks()
  await new Promise(resolve => setTimeout(resolve, ms))
  const after = coreTicks()
  const sum = (cores: CoreTicks[], key: keyof CoreTicks): number => cores.reduce((n, c) => n + c[key], 0)
  return round1(100 * (sum(after, 'busy') - sum(before, 'busy')) / ((sum(after, 'total') - sum(before, 'total')) || 1))
}

/** A run starts once the machine uses less than this share of its cores, the bench HBase's compactions included. */
export const QUIET_BELOW_PCT = 10

export interface Quiet {
  waitedMs: number
  /** Share of all cores busy over the last second waited, in percent. */
  busyPct: number
  /** The machine was still busy when the wait ran out: the run that follows is noisy. */
  gaveUp: boolean
}

/** Waits until the machine is idle, up to maxWaitMs: tests, builds or compactions running beside would skew a run. */
export async function waitQuiet (maxWaitMs: number): Promise<Quiet> {
  const started = Date.now()
  for (;;) {
    const busyPct = await machineBusyPct(maxWaitMs === 0 ? 200 : 1000)
    const waitedMs = Date.now() - started
    if (busyPct < QUIET_BELOW_PCT) return { waitedMs, busyPct, gaveUp: false }
    if (waitedMs >= maxWaitMs) return { waitedMs, busyPct, gaveUp: maxWaitMs > 0 }
  }
}
