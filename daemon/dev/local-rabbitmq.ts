// Runs a local single-node RabbitMQ (Debian's rabbitmq-server) on loopback, for development, the tests and the
// benchmarks, as local-hbase.ts runs HBase.
//
// The node gets a directory of its own (data, logs, config, Erlang cookie, pid file), its own node name, its own
// AMQP, distribution and epmd ports, so that it runs beside a system RabbitMQ, and beside another checkout's. It is
// started as `rabbitmq-server -detached` would, in a session of its own that outlives the process that started it,
// but by spoor itself, so that the pid and the boot output (logs/rabbitmq.out) are kept: any later process finds,
// checks and stops it through the pid file.

import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { connect as amqpConnect } from 'amqplib'
import { SpoorError } from '../errors'
import { checkPort, portInUse, tail } from './local-server'

export interface LocalRabbitMQOptions {
  /** Directory for data, logs, generated config and the pid file, such as `.spoor/rabbitmq`; created if missing. */
  dir: string
  /** AMQP port on 127.0.0.1. Default 5672. */
  amqpPort?: number
  /**
   * Erlang distribution port on 127.0.0.1 (what rabbitmqctl talks to). Default amqpPort + 20000, as RabbitMQ's own,
   * or amqpPort − 20000 when that is past 65535.
   */
  distPort?: number
  /** Port of the epmd this node registers with, on 127.0.0.1; started if none runs there. Default distPort + 1. */
  epmdPort?: number
  /** Erlang node name. Default `spoor-<amqpPort>@localhost`. */
  nodeName?: string
  /** Milliseconds `start` waits for RabbitMQ to accept AMQP connections. Default 60000; a start takes about 5 s. */
  startTimeoutMs?: number
  /** Milliseconds `stop` waits after SIGTERM before it sends SIGKILL. Default 30000. */
  stopTimeoutMs?: number
  /** The unwrapped rabbitmq-server script, not Debian's /usr/sbin wrapper, which runs as the rabbitmq user. */
  serverScript?: string
  /** The epmd binary. Default `epmd` from PATH. */
  epmd?: string
}

type FilledOptions = Required<LocalRabbitMQOptions>

/** Where Debian's rabbitmq-server package puts the script that runs the node as the calling user. */
export const DEBIAN_SERVER_SCRIPT = '/usr/lib/rabbitmq/bin/rabbitmq-server'

const kDefaultOptions = { amqpPort: 5672, startTimeoutMs: 60000, stopTimeoutMs: 30000, serverScript: DEBIAN_SERVER_SCRIPT, epmd: 'epmd' }

/** Lines of each log quoted in a start error. */
const LOG_TAIL_LINES = 25

const HAS_PROC = existsSync('/proc/self/cmdline')

/** The command-line flag that marks the node's processes, so that a recycled pid is never mistaken for it. */
const MARKER = '-spoor_rabbitmq'

const run = promisify(execFile)

function checkOptions (options: LocalRabbitMQOptions): FilledOptions {
  if (typeof options?.dir !== 'string' || options.dir === '') throw new TypeError('options.dir must be a non-empty string')
  const merged = { ...kDefaultOptions, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as LocalRabbitMQOptions }
  checkPort(merged.amqpPort, 'amqpPort')
  const distPort = merged.distPort ?? (merged.amqpPort + 20000 < 65535 ? merged.amqpPort + 20000 : merged.amqpPort - 20000)
  const o: FilledOptions = {
    distPort,
    epmdPort: distPort + 1,
    nodeName: `spoor-${merged.amqpPort}@localhost`,
    ...merged,
    dir: resolve(options.dir)
  }
  for (const name of ['amqpPort', 'distPort', 'epmdPort'] as const) checkPort(o[name], name)
  if (new Set([o.amqpPort, o.distPort, o.epmdPort]).size !== 3) throw new RangeError('options.amqpPort, distPort and epmdPort must all differ')
  if (!/^[A-Za-z0-9_-]+@[A-Za-z0-9.-]+$/.test(o.nodeName)) throw new RangeError('options.nodeName must be name@host')
  if (!Number.isInteger(o.startTimeoutMs) || o.startTimeoutMs < 1) throw new RangeError('options.startTimeoutMs must be a positive integer')
  if (!Number.isInteger(o.stopTimeoutMs) || o.stopTimeoutMs < 1) throw new RangeError('options.stopTimeoutMs must be a positive integer')
  return o
}

export class LocalRabbitMQ {
  private readonly o: FilledOptions

  constructor (options: LocalRabbitMQOptions) {
    this.o = checkOptions(options)
  }

  get ports (): { amqp: number, dist: number, epmd: number } {
    return { amqp: this.o.amqpPort, dist: this.o.distPort, epmd: this.o.epmdPort }
  }

  get nodeName (): string {
    return this.o.nodeName
  }

  /** The AMQP URL of this node, with RabbitMQ's default user, which it accepts from loopback only. */
  get url (): string {
    return `amqp://guest:guest@127.0.0.1:${this.o.amqpPort}`
  }

  /** Where the node writes its log (`rabbitmq.log`) and its boot output (`rabbitmq.out`). */
  get logDir (): string {
    return join(this.o.dir, 'logs')
  }

  /**
   * The environment that points Debian's scripts at this node, rabbitmqctl included:
   * `env $(…) /usr/lib/rabbitmq/bin/rabbitmqctl -n NODE list_queues` (docs/recommendations.md).
   */
  get env (): Record<string, string> {
    const { dir } = this.o
    return {
      // The Erlang cookie is written to and read from $HOME: this node's, not the user's.
      HOME: dir,
      RABBITMQ_NODENAME: this.o.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.o.amqpPort),
      RABBITMQ_DIST_PORT: String(this.o.distPort),
      ERL_EPMD_PORT: String(this.o.epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      // Not /etc/rabbitmq/rabbitmq-env.conf, which configures the system node.
      RABBITMQ_CONF_ENV_FILE: join(dir, 'conf', 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: join(dir, 'conf', 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'conf', 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'conf', 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: join(dir, 'data'),
      RABBITMQ_LOG_BASE: this.logDir,
      RABBITMQ_LOGS: join(this.logDir, 'rabbitmq.log'),
      RABBITMQ_PID_FILE: join(dir, 'node.pid'),
      // The distribution listener on loopback too; epmd is bound by ERL_EPMD_ADDRESS.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}'
    }
  }

  /**
   * Starts the node unless it runs, and resolves once it accepts AMQP connections; at once if it already does.
   * On failure or timeout it stops what it started and rejects with the logs' last lines.
   */
  async start (): Promise<void> {
    if (!existsSync(this.o.serverScript)) {
      throw new Error(`${this.o.serverScript} is missing: install Debian's rabbitmq-server (apt-get install rabbitmq-server; it is in debian-packages.txt)`)
    }
    mkdirSync(this.logDir, { recursive: true })
    const running = this.pid()
    if (running !== undefined) {
      await this.waitUntilAnswering(running)
      return
    }
    for (const port of [this.o.amqpPort, this.o.distPort]) {
      if (await portInUse(port)) throw new Error(`cannot start the local RabbitMQ in ${this.o.dir}: port ${port} on 127.0.0.1 is already in use (another RabbitMQ? stop it, or give this one other ports)`)
    }
    if (await portInUse(this.o.epmdPort) && !await this.epmdAnswers()) {
      throw new Error(`cannot start the local RabbitMQ in ${this.o.dir}: port ${this.o.epmdPort} on 127.0.0.1 is in use by something other than epmd`)
    }
    this.writeConfig()
    const pid = await this.launch()
    try {
      await this.waitUntilAnswering(pid)
    } catch (err) {
      await this.stop().catch(() => {})
      throw err
    }
  }

  /** Stops the node (SIGTERM, which it takes as a clean shutdown; SIGKILL after stopTimeoutMs), then its epmd if idle. */
  async stop (): Promise<void> {
    const pid = this.pid()
    if (pid !== undefined) {
      this.signal(pid, 'SIGTERM')
      if (!await this.exited(pid, this.o.stopTimeoutMs)) {
        // The wrapper and the Erlang VM share the process group the node was started in.
        this.signal(-pid, 'SIGKILL')
        if (!await this.exited(pid, 10000)) throw new Error(`the local RabbitMQ (pid ${pid}) is still running after SIGKILL`)
      }
    }
    rmSync(this.pidFile, { force: true })
    await this.stopEpmd()
  }

  /** Stops the node and removes its data (queues, messages, users); the logs and config stay. */
  async reset (): Promise<void> {
    await this.stop()
    rmSync(join(this.o.dir, 'data'), { recursive: true, force: true })
  }

  /** The pid of the running node, and whether it accepts AMQP connections. */
  async status (): Promise<{ pid?: number, answering: boolean }> {
    const pid = this.pid()
    return { pid, answering: pid !== undefined && await this.answers() }
  }

  private get pidFile (): string {
    return join(this.o.dir, 'rabbitmq.pid')
  }

  private alive (pid: number): boolean {
    try {
      process.kill(pid, 0)
    } catch {
      return false
    }
    if (!HAS_PROC) return true
    try {
      // An exited child not yet reaped has an empty command line, so it counts as gone.
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      const at = args.indexOf(MARKER)
      return at >= 0 && args[at + 1] === this.o.dir
    } catch {
      return false
    }
  }

  private pid (): number | undefined {
    let pid: number
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim())
    } catch {
      return undefined
    }
    return Number.isInteger(pid) && pid > 0 && this.alive(pid) ? pid : undefined
  }

  private writeConfig (): void {
    const conf = join(this.o.dir, 'conf')
    mkdirSync(conf, { recursive: true })
    const header = '# Written by spoor\'s daemon/dev/local-rabbitmq.ts at every start; edits are lost.\n'
    writeFileSync(join(conf, 'rabbitmq-env.conf'), header)
    writeFileSync(join(conf, 'rabbitmq.conf'), `${header}${[
      `listeners.tcp.default = 127.0.0.1:${this.o.amqpPort}`,
      // guest/guest, from loopback only: RabbitMQ's default, said here so that it does not depend on it.
      'loopback_users.guest = true',
      'log.file.level = info',
      'log.console = false',
      // Development machines and CI runners have little disk to spare; refuse publishes only when it runs out.
      'disk_free_limit.absolute = 50MB'
    ].join('\n')}\n`)
    writeFileSync(join(conf, 'enabled_plugins'), '[].\n')
  }

  private async launch (): Promise<number> {
    const out = openSync(join(this.logDir, 'rabbitmq.out'), 'a')
    try {
      // The marker goes through the script to erl as a user flag, which the VM ignores.
      const child = spawn(this.o.serverScript, [MARKER, this.o.dir], {
        cwd: this.o.dir,
        detached: true,
        stdio: ['ignore', out, out],
        env: { ...process.env, ...this.env }
      })
      try {
        await once(child, 'spawn')
      } catch (err) {
        throw new Error(`could not run ${this.o.serverScript}: ${(err as Error).message}`)
      }
      child.unref()
      const pid = child.pid as number
      writeFileSync(this.pidFile, `${pid}\n`)
      return pid
    } finally {
      closeSync(out)
    }
  }

  private async answers (): Promise<boolean> {
    try {
      const connection = await amqpConnect(this.url, { timeout: 2000 })
      await connection.close()
      return true
    } catch {
      return false
    }
  }

  private async waitUntilAnswering (pid: number): Promise<void> {
    const deadline = Date.now() + this.o.startTimeoutMs
    for (;;) {
      if (!this.alive(pid)) throw this.startError(`the local RabbitMQ (pid ${pid}) exited during start`)
      if (await this.answers()) return
      if (Date.now() >= deadline) throw this.startError(`RabbitMQ did not accept AMQP connections on 127.0.0.1:${this.o.amqpPort} within ${this.o.startTimeoutMs} ms`)
      await sleep(250)
    }
  }

  private startError (summary: string): Error {
    const logs = ['rabbitmq.out', 'rabbitmq.log']
      .map(name => ({ name, text: tail(join(this.logDir, name), LOG_TAIL_LINES) }))
      .filter(log => log.text !== '')
      .map(log => `--- ${join(this.logDir, log.name)} (last lines) ---\n${log.text}`)
    return new Error([summary, ...logs].join('\n'))
  }

  /** Whether an epmd answers on this node's epmd port. */
  private async epmdAnswers (): Promise<boolean> {
    try {
      await run(this.o.epmd, ['-port', String(this.o.epmdPort), '-names'], { timeout: 5000 })
      return true
    } catch {
      return false
    }
  }

  /** Kills the epmd on this node's port once no node is registered with it; a shared one with nodes stays. */
  private async stopEpmd (): Promise<void> {
    let names: string
    try {
      names = (await run(this.o.epmd, ['-port', String(this.o.epmdPort), '-names'], { timeout: 5000 })).stdout
    } catch {
      return
    }
    if (/^name /m.test(names)) return
    await run(this.o.epmd, ['-port', String(this.o.epmdPort), '-kill'], { timeout: 5000 }).catch(() => {})
  }

  private signal (pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(pid, signal)
    } catch {
      // It exited in between: what the signal was for.
    }
  }

  private async exited (pid: number, withinMs: number): Promise<boolean> {
    const deadline = Date.now() + withinMs
    while (this.alive(pid)) {
      if (Date.now() >= deadline) return false
      await sleep(100)
    }
    return true
  }
}

/**
 * The local node of the config: its AMQP port is recommend.amqp_url's, which must point at this machine's loopback,
 * since that is where the local node listens.
 */
export function localRabbitMQ (amqpUrl: string, dir: string): LocalRabbitMQ {
  let url: URL
  try {
    url = new URL(amqpUrl)
  } catch {
    throw new SpoorError('CONFIG_INVALID', `recommend.amqp_url is not a URL: ${amqpUrl}`)
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new SpoorError('CONFIG_INVALID', `recommend.amqp_url points at ${url.hostname}, but the local RabbitMQ listens on 127.0.0.1 only; point it at amqp://127.0.0.1:PORT`)
  }
  return new LocalRabbitMQ({ dir, amqpPort: url.port === '' ? 5672 : Number(url.port) })
}

/** `spoor rabbitmq start|stop`. */
export async function rabbitmqCommand (amqpUrl: string, dir: string, sub: string | undefined): Promise<void> {
  if (sub !== 'start' && sub !== 'stop') throw new SpoorError('USAGE', `unknown rabbitmq command "${sub ?? ''}"; see spoor --help`)
  const node = localRabbitMQ(amqpUrl, dir)
  if (sub === 'start') {
    await node.start()
    console.log(`RabbitMQ ${node.nodeName} on amqp://127.0.0.1:${node.ports.amqp} (distribution ${node.ports.dist}, epmd ${node.ports.epmd}), data and logs under ${resolve(dir)}`)
  } else {
    await node.stop()
    console.log('RabbitMQ stopped')
  }
}
