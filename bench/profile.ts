// Where each contender's CPU goes on the pixel: `perf record` of the server's threads under wrk, folded into the
// steps of the request path (the kernel's TCP, uWS.js, JavaScript, V8's runtime and garbage collector, the encoder,
// LMDB, libc), each given as a share of the samples and as µs per request from the CPU time measured in the same
// window. What docs/benchmarks.md says about the remaining cost per step comes from this, not from an estimate.
//
// Usage: node dist/bench/profile.js [--seconds S] [--contenders spoor-no-flush,nginx,bare-uws] [--hbase-port P] [--rate N]
//   spoor            the full pipeline; needs --hbase-port (an HBase with the bench's tables is created there)
//   spoor-no-flush   spoor with HBase on a closed port, the request path alone
//   spoor-post-1     POST /e with one event, the flush off
//   nginx, bare-uws  the references
//   --rate N         a paced load of N requests/s from autocannon (10 connections) instead of wrk at full speed:
//                    where the CPU goes when the batches are small, as in the seed's comparison (bench/flume.ts)
// The server runs on core 0, wrk on core 1, as in `npm run bench`. Writes bench/results/<date>-<host>-profile.{json,md}
// (--out DIR elsewhere). Needs perf (Debian's linux-perf), run as root or with perf_event_paranoid ≤ 1.

import { execFile, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { HBaseClient } from '../daemon/hbase/client'
import { ensureSchema } from '../daemon/hbase/schema'
import { bodyFile, PIXEL, postWorkload, ROOT, runAutocannon, runWrk, shellLine, warmUp, type Workload } from './load'
import { CLK_TCK, machine, waitQuiet } from './proc'
import { startBare, startNginx, startSpoor, type HBaseTarget, type Running } from './servers'

const SERVER_CPUS = '0'
const LOAD_CPUS = '1'
/** Samples per second and thread: enough for a share to within about a percent in a few seconds. */
const FREQUENCY = 2999
/** Symbols listed under each step. */
const TOP_PER_STEP = 6
const CONTENDERS = ['spoor', 'spoor-no-flush', 'spoor-post-1', 'nginx', 'bare-uws'] as const
type ContenderName = typeof CONTENDERS[number]

/**
 * The steps a sample outside the kernel is counted in, tried in order: the first that matches its shared object and
 * symbol. Kernel samples are counted by what the kernel was doing for the process, from the sample's call stack.
 */
const STEPS: Array<{ step: string, dso?: RegExp, sym?: RegExp }> = [
  { step: 'uWS.js (HTTP parsing, sockets)', dso: /uws_/ },
  { step: 'spoor encoder (Rust)', dso: /spoor-native/ },
  { step: 'LMDB', dso: /lmdb/ },
  { step: 'JavaScript (JIT-compiled code)', dso: /JIT|perf-\d+\.map/ },
  { step: 'JavaScript (JIT-compiled code)', sym: /^Builtins_/ },
  { step: 'V8 garbage collection', dso: /^node$/, sym: /Heap|Scaveng|MarkCompact|Marking|Sweep|Evacuat|GCTracer|Compactor|MemoryChunk|PagedSpace|NewSpace|SemiSpace|RememberedSet|SlotSet|Worklist|ConcurrentMarking|IncrementalMarking|MarkingVisitor|MarkBit/ },
  { step: 'V8 and Node runtime (API calls, napi, strings)', dso: /^node$/ },
  { step: 'nginx', dso: /^nginx$/ },
  { step: 'libc and libstdc++ (malloc, memcpy)', dso: /libc|libstdc|libm|ld-linux/ }
]

/** What the kernel was doing, from the symbols of a kernel sample's stack (innermost first). */
function kernelStep (stack: string[]): string {
  const all = stack.join(' ')
  if (/\b(tcp_|__tcp|inet_|sock_sendmsg|sock_recvmsg|__sys_sendto|__sys_recvfrom|net_rx_action|__netif|ip_finish|__ip_queue_xmit|loopback_xmit)/.test(all)) return 'kernel: TCP/IP and the loopback device'
  const call = /__(?:x64|se|do)_sys_(\w+)/.exec(all)?.[1]
  if (call !== undefined) {
    if (/^futex/.test(call)) return 'kernel: futex (threads waking and waiting for each other)'
    if (/^epoll/.test(call)) return 'kernel: epoll'
    if (/^(mmap|munmap|mprotect|madvise|brk|mremap)$/.test(call)) return 'kernel: memory mapping (mmap, madvise)'
    if (/^(pwrite64|pwritev|fdatasync|fsync|msync|sync_file_range|write|writev|pread64|read)$/.test(call)) return 'kernel: reads, writes and syncs of files (the LMDB buffer)'
    return 'kernel: other system calls'
  }
  if (/asm_exc_page_fault|do_user_addr_fault|handle_mm_fault/.test(all)) return 'kernel: page faults'
  if (/schedule|finish_task_switch|__switch_to/.test(all)) return 'kernel: scheduling'
  return 'kernel: interrupts and other'
}

interface Sample { dso: string, symbol: string, step: string }

/** Every sample of a `perf record -g` file: its innermost frame and the step it is counted in. */
function samplesOf (data: string): Sample[] {
  const out = execFileSync('perf', ['script', '-i', data, '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1024 * 2 ** 20, stdio: ['ignore', 'pipe', 'ignore'] })
  const samples: Sample[] = []
  for (const block of out.split(/\n\s*\n/)) {
    const frames = block.split('\n').flatMap(line => {
      // "\t    ffffffff8123 tcp_sendmsg+0x12 ([kernel.kallsyms])"
      const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line)
      return m == null ? [] : [{ symbol: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2].replace(/^.*\//, '') }]
    })
    if (frames.length === 0) continue
    const leaf = frames[0]
    if (/kernel/.test(leaf.dso)) {
      samples.push({ ...leaf, step: kernelStep(frames.filter(f => /kernel/.test(f.dso)).map(f => f.symbol)) })
      continue
    }
    const step = STEPS.find(s => (s.dso === undefined || s.dso.test(leaf.dso)) && (s.sym === undefined || s.sym.test(leaf.symbol)))?.step ?? 'other'
    samples.push({ ...leaf, step })
  }
  return samples
}

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    contenders: { type: 'string', default: 'spoor-no-flush,spoor-post-1,nginx,bare-uws' },
    'hbase-port': { type: 'string' },
    'salt-buckets': { type: 'string', default: '16' },
    rate: { type: 'string' },
    'batch-interval-ms': { type: 'string' },
    'quiet-wait': { type: 'string', default: '15' },
    out: { type: 'string' }
  }
})
const seconds = Number(args.seconds)
if (!Number.isSafeInteger(seconds) || seconds < 1) throw new RangeError('--seconds must be a positive integer')
const names = (args.contenders as string).split(',').map(n => {
  if (!(CONTENDERS as readonly string[]).includes(n)) throw new RangeError(`--contenders: unknown ${n}; they are ${CONTENDERS.join(', ')}`)
  return n as ContenderName
})
if (names.includes('spoor') && args['hbase-port'] === undefined) throw new RangeError('the full pipeline (spoor) needs --hbase-port')
const outDir = args.out ?? join(ROOT, 'bench', 'results')
const rate = args.rate === undefined ? undefined : Number(args.rate)
if (rate !== undefined && !(Number.isSafeInteger(rate) && rate > 0)) throw new RangeError('--rate must be a positive integer')

interface SymbolShare { step: string, dso: string, symbol: string, pct: number }
interface Step { step: string, pct: number, usPerRequest: number }
export interface Profile {
  contender: ContenderName
  requests: number
  requestsPerSecond: number
  cpuUsPerRequest: number
  samples: number
  steps: Step[]
  top: SymbolShare[]
  command: string
}

async function startContender (name: ContenderName, target: HBaseTarget): Promise<Running> {
  // --perf-basic-prof: V8 writes /tmp/perf-PID.map, so that perf names JavaScript functions.
  const flags = ['--perf-basic-prof', '--logfile=/dev/null', '--no-logfile-per-isolate']
  if (name === 'nginx') return await startNginx(SERVER_CPUS, 1)
  if (name === 'bare-uws') return await startBare(SERVER_CPUS, flags)
  const batchIntervalMs = args['batch-interval-ms'] === undefined ? undefined : Number(args['batch-interval-ms'])
  return await startSpoor(SERVER_CPUS, target, { threads: 1, flush: name === 'spoor', nodeFlags: flags, batchIntervalMs })
}

/** The server's processes: nginx's master and workers, or the node process. */
function pids (server: Running): number[] {
  const children = readFileSync(`/proc/${server.pid}/task/${server.pid}/children`, 'utf8').trim().split(' ').filter(s => s !== '').map(Number)
  return [server.pid, ...children]
}

async function profileOne (name: ContenderName, target: HBaseTarget, scratch: string): Promise<Profile> {
  const workload: Workload = name === 'spoor-post-1' ? postWorkload(1) : PIXEL
  await waitQuiet(1000 * Number(args['quiet-wait']))
  const server = await startContender(name, target)
  const body = bodyFile(workload, scratch)
  const data = join(scratch, `${name}.perf.data`)
  try {
    if (rate === undefined) await warmUp(server.port, workload, 2, LOAD_CPUS, body)
    // perf samples the middle of the load: started after wrk has connected, stopped before it ends.
    const load = rate === undefined ? runWrk(server.port, workload, seconds + 2, LOAD_CPUS, body) : runAutocannon(server.port, workload, seconds + 2, LOAD_CPUS, body, { rate, connections: 10 })
    await new Promise(resolve => setTimeout(resolve, 1000))
    const cpu0 = server.cpuTicks()
    const t0 = Date.now()
    const perf = spawn('perf', ['record', '-F', String(FREQUENCY), '-g', '-o', data, '-p', pids(server).join(','), '--', 'sleep', String(seconds)], { cwd: ROOT, stdio: 'ignore' })
    const [code] = await once(perf, 'exit') as [number | null]
    const cpu1 = server.cpuTicks()
    const wallMs = Date.now() - t0
    const result = await load
    if (code !== 0) throw new Error(`perf record exited with ${String(code)}`)
    // Requests in the profiled window, at the load's own rate.
    const requests = Math.round(result.requestsPerSecond * wallMs / 1000)
    const cpuUsPerRequest = (cpu1 - cpu0) * 1e6 / CLK_TCK / requests
    const all = samplesOf(data)
    const share = (n: number): number => Math.round(1000 * n / all.length) / 10
    const count = <K>(key: (s: Sample) => K): Array<[K, number]> => {
      const m = new Map<K, number>()
      for (const s of all) m.set(key(s), (m.get(key(s)) ?? 0) + 1)
      return [...m].sort((a, b) => b[1] - a[1])
    }
    const steps = count(s => s.step).map(([step, n]) => ({ step, pct: share(n), usPerRequest: Math.round(n / all.length * cpuUsPerRequest * 100) / 100 }))
    // Each step's own top symbols, so that the small steps show what they are made of too.
    const symbols = steps.flatMap(({ step }) => count(s => s.step === step ? `${s.dso}\t${s.symbol}` : '').filter(([k]) => k !== '').slice(0, TOP_PER_STEP)
      .map(([k, n]) => ({ step, dso: k.split('\t')[0], symbol: k.split('\t')[1], pct: share(n) })))
    const samples = all.length
    return {
      contender: name,
      requests,
      requestsPerSecond: result.requestsPerSecond,
      cpuUsPerRequest: Math.round(cpuUsPerRequest * 100) / 100,
      samples,
      steps,
      top: symbols,
      command: shellLine(['perf', 'record', '-F', String(FREQUENCY), '-g', '-p', 'PIDS', '--', 'sleep', String(seconds)])
    }
  } finally {
    await server.stop()
    rmSync(data, { force: true })
  }
}

function markdown (profiles: Profile[], settings: Record<string, unknown>): string {
  const lines = [
    `# spoor: where the CPU goes on the request path (${String(settings.date)}, ${String(settings.host)})`,
    '',
    `\`${String(settings.command)}\` on commit ${String(settings.commit)}. Each server on core 0 under ${rate === undefined ? '`wrk -t1 -c64`' : `autocannon at ${rate} requests/s`} on core 1; ` +
      `\`perf record -F ${FREQUENCY} -g\` of all its threads for ${seconds} s in the middle of the load; each step's share of the ` +
      'self samples, and that share of the CPU time per request measured over the same window (/proc utime + stime).',
    ''
  ]
  for (const p of profiles) {
    lines.push(`## ${p.contender}: ${p.cpuUsPerRequest} µs per request, ${p.requestsPerSecond} req/s, ${p.samples} samples`, '', '| step | share | µs per request |', '| --- | --- | --- |')
    for (const s of p.steps) lines.push(`| ${s.step} | ${s.pct}% | ${s.usPerRequest} |`)
    lines.push('', '<details><summary>the top symbols of each step</summary>', '', '| step | share | object | symbol |', '| --- | --- | --- | --- |')
    for (const s of p.top) lines.push(`| ${s.step} | ${s.pct}% | ${s.dso} | \`${s.symbol.replace(/\|/g, '\\|').slice(0, 120)}\` |`)
    lines.push('', '</details>', '')
  }
  return lines.join('\n')
}

async function main (): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'spoor-profile-'))
  const port = Number(args['hbase-port'] ?? 1)
  const stamp = `profile_${Date.now()}`
  const target: HBaseTarget = { port, userTable: `${stamp}_user`, timeTable: `${stamp}_time`, saltBuckets: Number(args['salt-buckets']) }
  if (names.includes('spoor')) await HBaseClient.using({ host: '127.0.0.1', port }, async c => await ensureSchema(c, target))
  const profiles: Profile[] = []
  try {
    for (const name of names) {
      process.stderr.write(`profiling ${name}…\n`)
      const p = await profileOne(name, target, scratch)
      process.stderr.write(`  ${p.cpuUsPerRequest} µs/request: ${p.steps.map(s => `${s.step} ${s.usPerRequest}`).join(', ')}\n`)
      profiles.push(p)
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  const m = machine()
  const date = new Date().toISOString().slice(0, 10)
  const commit = await new Promise<string>(resolve => execFile('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }, (_e, out) => resolve(out.trim() || 'unknown')))
  const settings = { date, host: m.hostname, commit, command: shellLine(['node', 'dist/bench/profile.js', ...process.argv.slice(2)]), seconds, frequency: FREQUENCY }
  mkdirSync(outDir, { recursive: true })
  const base = join(outDir, `${date}-${m.hostname}-profile`)
  writeFileSync(`${base}.json`, `${JSON.stringify({ benchmark: 'spoor-profile', ...settings, machine: m, profiles }, null, 2)}\n`)
  const page = markdown(profiles, settings)
  writeFileSync(`${base}.md`, page)
  console.log(page)
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
