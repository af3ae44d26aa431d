// Runs a local single-node HBase (master, region server and ZooKeeper in one JVM) and its Thrift2 gateway.
//
// For development, tests and benchmarks only. Both JVMs run detached, so they outlive the process that started
// them; pid files under `dir` let any later process find, check and stop them. The jars come from Maven
// Central through hbase/pom.xml, resolved once per version of that pom.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { HBaseClient } from '../hbase/client'
import { JDK17_FLAGS, mavenClasspath, siteXml } from './jvm'
import { repoDir } from '../repo-dir'
import { checkPort, portInUse, tail } from './local-server'

export interface LocalHBaseOptions {
  /** Directory for data, logs, generated config and pid files, such as `.spoor/hbase`; created if missing. */
  dir: string
  /** Port of the Thrift2 gateway on 127.0.0.1. Default 9090. */
  thriftPort?: number
  /** Port of the in-process ZooKeeper on 127.0.0.1. Default 2181. */
  zkPort?: number
  /**
   * Base of the HBase RPC ports, in HBase's own layout: the master on basePort, the region server on
   * basePort + 20. Default 16000. Give each instance that runs at the same time its own base and its own
   * thriftPort and zkPort.
   */
  basePort?: number
  /** Master RPC port on 127.0.0.1. Default basePort. */
  masterPort?: number
  /** Region server RPC port on 127.0.0.1. Default basePort + 20. */
  regionServerPort?: number
  /** Maximum heap of the HBase JVM in MiB, at least 256; its memstores get 40% of it. Default 1024. */
  heapMb?: number
  /** Maximum heap of the gateway JVM in MiB, at least 128. Default 512. */
  thriftHeapMb?: number
  /** Milliseconds `start` waits for HBase to answer through the gateway. Default 180000; a cold start takes about 15 s. */
  startTimeoutMs?: number
  /** Milliseconds `stop` waits after SIGTERM before it sends SIGKILL. Default 30000. */
  stopTimeoutMs?: number
  /** Folder holding pom.xml and log4j2.properties. Default: the repository's `hbase/`. */
  hbaseDir?: string
  /** The java binary, JDK 17. Default `$JAVA_HOME/bin/java`, else `java` from PATH. */
  java?: string
}

type FilledOptions = Required<LocalHBaseOptions>

const kDefaultOptions = { thriftPort: 9090, zkPort: 2181, basePort: 16000, heapMb: 1024, thriftHeapMb: 512, startTimeoutMs: 180000, stopTimeoutMs: 30000 }

/** Pids of the running processes (undefined when not running) and whether HBase answers through the gateway. */
export interface LocalHBaseStatus {
  master?: number
  thrift?: number
  answering: boolean
}

type Role = 'master' | 'thrift'

/** Lines of each log quoted in a start error. */
const LOG_TAIL_LINES = 25

const HAS_PROC = existsSync('/proc/self/cmdline')

function checkOptions (options: LocalHBaseOptions): FilledOptions {
  if (typeof options?.dir !== 'string' || options.dir === '') throw new TypeError('options.dir must be a non-empty string')
  // An option given as undefined takes its default, as one left out does.
  const merged = { ...kDefaultOptions, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as LocalHBaseOptions }
  checkPort(merged.basePort, 'basePort')
  const o: FilledOptions = {
    masterPort: merged.basePort,
    regionServerPort: merged.basePort + 20,
    hbaseDir: repoDir('hbase'),
    java: process.env.JAVA_HOME != null && process.env.JAVA_HOME !== '' ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java',
    ...merged,
    dir: resolve(options.dir)
  }
  o.hbaseDir = resolve(o.hbaseDir)
  for (const name of ['thriftPort', 'zkPort', 'masterPort', 'regionServerPort'] as const) checkPort(o[name], name)
  if (new Set([o.thriftPort, o.zkPort, o.masterPort, o.regionServerPort]).size !== 4) throw new RangeError('options.thriftPort, zkPort, masterPort and regionServerPort must all differ')
  if (!Number.isInteger(o.heapMb) || o.heapMb < 256) throw new RangeError('options.heapMb must be an integer of at least 256')
  if (!Number.isInteger(o.thriftHeapMb) || o.thriftHeapMb < 128) throw new RangeError('options.thriftHeapMb must be an integer of at least 128')
  if (!Number.isInteger(o.startTimeoutMs) || o.startTimeoutMs < 1) throw new RangeError('options.startTimeoutMs must be a positive integer')
  if (!Number.isInteger(o.stopTimeoutMs) || o.stopTimeoutMs < 1) throw new RangeError('options.stopTimeoutMs must be a positive integer')
  if (typeof o.java !== 'string' || o.java === '') throw new TypeError('options.java must be a non-empty string')
  return o
}

export class LocalHBase {
  private readonly o: FilledOptions

  constructor (options: LocalHBaseOptions) {
    this.o = checkOptions(options)
  }

  /** The ports this instance uses, all on 127.0.0.1. */
  get ports (): { thrift: number, zk: number, master: number, regionServer: number } {
    return { thrift: this.o.thriftPort, zk: this.o.zkPort, master: this.o.masterPort, regionServer: this.o.regionServerPort }
  }

  /** Where the JVMs write their logs (`master.log`, `thrift.log`, and `*.out` for what bypasses log4j). */
  get logDir (): string {
    return join(this.o.dir, 'logs')
  }

  /**
   * Starts whatever is not running and resolves once HBase answers through the gateway. Resolves at once if
   * both already run and answer. On failure or timeout it stops both and rejects with the logs' last lines.
   * Not safe to call from two processes at once for one `dir`.
   */
  async start (): Promise<void> {
    mkdirSync(this.logDir, { recursive: true })
    let master = this.pid('master')
    let thrift = this.pid('thrift')
    if (master !== undefined && thrift !== undefined && await this.answers()) return
    if (master === undefined && thrift !== undefined) {
      // A gateway that outlived its master may hold another config; it restarts with the new one.
      await this.terminate('thrift')
      thrift = undefined
    }
    // Another instance on these ports would answer in place of this one, and its data is not ours.
    const ports = [...(master === undefined ? [this.o.zkPort, this.o.masterPort, this.o.regionServerPort] : []), ...(thrift === undefined ? [this.o.thriftPort] : [])]
    for (const port of ports) {
      if (await portInUse(port)) throw new Error(`cannot start the local HBase in ${this.o.dir}: port ${port} on 127.0.0.1 is already in use (another HBase? stop it, or give this one other ports)`)
    }
    const classpath = await mavenClasspath(join(this.o.hbaseDir, 'pom.xml'), this.o.dir)
    this.writeConfig()
    try {
      master ??= await this.launch('master', classpath, this.o.heapMb, ['org.apache.hadoop.hbase.master.HMaster', 'start'])
      thrift ??= await this.launch('thrift', classpath, this.o.thriftHeapMb, [
        'org.apache.hadoop.hbase.thrift2.ThriftServer',
        '-b', '127.0.0.1', '-p', String(this.o.thriftPort), '-f', '-c', '--infoport', '-1', 'start'
      ])
      await this.waitUntilAnswering(master, thrift)
    } catch (err) {
      await this.stop().catch(() => {})
      throw err
    }
  }

  /** Stops the gateway, then HBase: SIGTERM, then SIGKILL after stopTimeoutMs. Resolves once both are gone. */
  async stop (): Promise<void> {
    await this.terminate('thrift')
    await this.terminate('master')
  }

  /**
   * Stops both, then removes what HBase stored: tables, ZooKeeper state and temporary files. The logs, the config
   * and the resolved classpath stay. The test suite and the benchmark start from a reset, so that no run inherits
   * another's regions or compaction debt.
   */
  async reset (): Promise<void> {
    await this.stop()
    for (const sub of ['data', 'zk', 'tmp']) rmSync(join(this.o.dir, sub), { recursive: true, force: true })
  }

  async status (): Promise<LocalHBaseStatus> {
    const master = this.pid('master')
    const thrift = this.pid('thrift')
    return { master, thrift, answering: master !== undefined && thrift !== undefined && await this.answers() }
  }

  private pidFile (role: Role): string {
    return join(this.o.dir, `${role}.pid`)
  }

  /** Marks the command line of each JVM, so that a recycled pid is never mistaken for it. */
  private marker (role: Role): string {
    return `-Dspoor.hbase.instance=${join(this.o.dir, role)}`
  }

  private alive (pid: number, role: Role): boolean {
    try {
      process.kill(pid, 0)
    } catch {
      return false
    }
    if (!HAS_PROC) return true
    try {
      // An exited child not yet reaped has an empty command line, so it counts as gone.
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(this.marker(role))
    } catch {
      return false
    }
  }

  /** The pid of the role's running JVM, from its pid file; undefined if it is not running. */
  private pid (role: Role): number | undefined {
    let pid: number
    try {
      pid = Number(readFileSync(this.pidFile(role), 'utf8').trim())
    } catch {
      return undefined
    }
    return Number.isInteger(pid) && pid > 0 && this.alive(pid, role) ? pid : undefined
  }

  private writeConfig (): void {
    const { dir } = this.o
    for (const role of ['master', 'thrift'] as const) mkdirSync(join(dir, 'conf', role), { recursive: true })
    writeFileSync(join(dir, 'conf', 'master', 'hbase-site.xml'), siteXml('daemon/local-hbase.ts', {
      'hbase.cluster.distributed': false,
      'hbase.rootdir': `file://${join(dir, 'data')}`,
      // The default is under /tmp, shared by every instance on the machine.
      'hbase.tmp.dir': join(dir, 'tmp', 'master'),
      'hbase.zookeeper.quorum': '127.0.0.1',
      'hbase.zookeeper.property.clientPort': this.o.zkPort,
      'hbase.zookeeper.property.dataDir': join(dir, 'zk'),
      // The local file system has no hflush/hsync capability, which HBase otherwise refuses to run without.
      'hbase.unsafe.stream.capability.enforce': false,
      'hbase.localcluster.assign.random.ports': false,
      'hbase.master.port': this.o.masterPort,
      'hbase.regionserver.port': this.o.regionServerPort,
      'hbase.master.ipc.address': '127.0.0.1',
      'hbase.regionserver.ipc.address': '127.0.0.1',
      'hbase.master.info.port': -1,
      'hbase.regionserver.info.port': -1,
      // There is exactly one region server: the master need not wait 4.5 s for others to report in, and the
      // region server, which sleeps this interval between its first tries to report, comes online sooner.
      'hbase.master.wait.on.regionservers.mintostart': 1,
      'hbase.master.wait.on.regionservers.maxtostart': 1,
      'hbase.regionserver.msginterval': 500,
      // On SIGTERM the in-process ZooKeeper may stop before the region server deletes its znode, which it
      // would otherwise retry for about 20 s; ZooKeeper is in this JVM, so retrying cannot help anyway.
      'zookeeper.recovery.retry': 1,
      'zookeeper.recovery.retry.intervalmill': 200
    }))
    writeFileSync(join(dir, 'conf', 'thrift', 'hbase-site.xml'), siteXml('daemon/local-hbase.ts', {
      'hbase.tmp.dir': join(dir, 'tmp', 'thrift'),
      'hbase.zookeeper.quorum': '127.0.0.1',
      'hbase.zookeeper.property.clientPort': this.o.zkPort,
      // HBase's client defaults retry for minutes (operation timeout 20 min, 15 retries, 30 ZooKeeper
      // retries). Here an outage surfaces as a TIOError within seconds and spoor's flush does the retrying.
      'hbase.client.operation.timeout': 10000,
      'hbase.client.meta.operation.timeout': 10000,
      'hbase.rpc.timeout': 5000,
      'hbase.client.retries.number': 2,
      'hbase.client.pause': 100,
      'zookeeper.recovery.retry': 1
    }))
  }

  private async launch (role: Role, classpath: string, heapMb: number, main: string[]): Promise<number> {
    const out = openSync(join(this.logDir, `${role}.out`), 'a')
    try {
      const child = spawn(this.o.java, [
        this.marker(role),
        `-Xmx${heapMb}m`,
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.net.preferIPv4Stack=true',
        ...JDK17_FLAGS,
        `-Dlog4j2.configurationFile=${join(this.o.hbaseDir, 'log4j2.properties')}`,
        `-Dspoor.log.file=${join(this.logDir, `${role}.log`)}`,
        ...main
      ], {
        cwd: this.logDir,
        detached: true,
        stdio: ['ignore', out, out],
        // The generated config comes first, so HBase reads it instead of hbase-default.xml's defaults.
        env: { ...process.env, CLASSPATH: `${join(this.o.dir, 'conf', role)}:${classpath}` }
      })
      try {
        await once(child, 'spawn')
      } catch (err) {
        throw new Error(`could not run ${this.o.java} (HBase needs JDK 17; set JAVA_HOME or options.java): ${(err as Error).message}`)
      }
      child.unref()
      const pid = child.pid as number
      writeFileSync(this.pidFile(role), `${pid}\n`)
      return pid
    } finally {
      closeSync(out)
    }
  }

  /** One attempt at a call that needs an initialised master: listing the default namespace. */
  private async answers (): Promise<boolean> {
    try {
      await this.probe()
      return true
    } catch {
      return false
    }
  }

  private async probe (): Promise<void> {
    const client = await HBaseClient.connect({ host: '127.0.0.1', port: this.o.thriftPort, connectTimeoutMs: 2000, requestTimeoutMs: 20000 })
    try {
      await client.getTableNamesByNamespace('default')
    } finally {
      await client.close()
    }
  }

  private async waitUntilAnswering (master: number, thrift: number): Promise<void> {
    const deadline = Date.now() + this.o.startTimeoutMs
    for (;;) {
      for (const [role, pid] of [['master', master], ['thrift', thrift]] as const) {
        if (!this.alive(pid, role)) throw this.startError(`the HBase ${role} JVM (pid ${pid}) exited during start`)
      }
      let last: Error
      try {
        await this.probe()
        return
      } catch (err) {
        last = err as Error
      }
      if (Date.now() >= deadline) {
        throw this.startError(`HBase did not answer through 127.0.0.1:${this.o.thriftPort} within ${this.o.startTimeoutMs} ms; last: ${last.message}`)
      }
      await sleep(500)
    }
  }

  private startError (summary: string): Error {
    const logs = ['master.out', 'master.log', 'thrift.out', 'thrift.log']
      .map(name => ({ name, text: tail(join(this.logDir, name), LOG_TAIL_LINES) }))
      .filter(log => log.text !== '')
      .map(log => `--- ${join(this.logDir, log.name)} (last lines) ---\n${log.text}`)
    return new Error([summary, ...logs].join('\n'))
  }

  private async terminate (role: Role): Promise<void> {
    const pid = this.pid(role)
    if (pid !== undefined) {
      this.signal(pid, 'SIGTERM')
      if (!await this.exited(pid, role, this.o.stopTimeoutMs)) {
        this.signal(pid, 'SIGKILL')
        if (!await this.exited(pid, role, 10000)) throw new Error(`the HBase ${role} JVM (pid ${pid}) is still running after SIGKILL`)
      }
    }
    rmSync(this.pidFile(role), { force: true })
  }

  private signal (pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(pid, signal)
    } catch {
      // It exited in between: what the signal was for.
    }
  }

  private async exited (pid: number, role: Role, withinMs: number): Promise<boolean> {
    const deadline = Date.now() + withinMs
    while (this.alive(pid, role)) {
      if (Date.now() >= deadline) return false
      await sleep(100)
    }
    return true
  }
}
