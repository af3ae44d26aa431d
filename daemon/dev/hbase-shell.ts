// Opens an HBase shell (HBase's JRuby IRB: `list`, `describe`, `scan`, ...) against a running HBase, such as
// the local one of local-hbase.ts.
//
// For development and operations. The jars come from Maven Central through hbase/shell/pom.xml, resolved once
// per version of that pom, on a classpath of their own: the shell is HBase 2.4.17 (the newest hbase-shell the
// Maven mirror serves), whose 2.4 client talks to the 2.6 server over HBase's wire protocol. Its main class
// is the one in the hbase-shell jar's manifest, org.jruby.JarBootstrapMain, which runs the jar's
// jar-bootstrap.rb, as HBase's own bin/hbase does when it runs from a source tree.

import { spawn, type StdioOptions } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { constants } from 'node:os'
import { join, resolve } from 'node:path'
import { JDK17_FLAGS, mavenClasspath, siteXml } from './jvm'
import { repoDir } from '../repo-dir'

export interface HBaseShellOptions {
  /**
   * Directory for the cached classpath and the generated hbase-site.xml, such as `.spoor/hbase/shell`;
   * created if missing. Any number of shells may share it.
   */
  dir: string
  /** Host of HBase's ZooKeeper. Default 127.0.0.1. */
  zkHost?: string
  /** Client port of HBase's ZooKeeper; for a LocalHBase, its `ports.zk`. Default 2181. */
  zkPort?: number
  /**
   * Arguments for the shell itself, as `hbase shell` takes them: `-n` (non-interactive: exit non-zero on the
   * first error), `-d` (debug logging), `-Dkey=value` (a configuration override), then a script file and
   * its arguments. Default none: an interactive shell reading stdin.
   */
  args?: string[]
  /** How the shell's stdin, stdout and stderr are connected, as for child_process.spawn. Default 'inherit'. */
  stdio?: StdioOptions
  /** Maximum heap of the shell JVM in MiB, at least 128. Default 512. */
  heapMb?: number
  /** Milliseconds to wait for ZooKeeper to accept a connection before the shell starts. Default 3000. */
  connectTimeoutMs?: number
  /** Folder holding the shell's pom.xml and log4j2.properties. Default: the repository's `hbase/shell/`. */
  shellDir?: string
  /** The java binary, JDK 17. Default `$JAVA_HOME/bin/java`, else `java` from PATH. */
  java?: string
}

type FilledOptions = Required<HBaseShellOptions>

/** The java command line that runs the shell. */
export interface HBaseShellCommand {
  java: string
  args: string[]
  env: NodeJS.ProcessEnv
}

const kDefaults = { zkHost: '127.0.0.1', zkPort: 2181, args: [] as string[], stdio: 'inherit' as StdioOptions, heapMb: 512, connectTimeoutMs: 3000 }

const MAIN_CLASS = 'org.jruby.JarBootstrapMain'

function checkOptions (options: HBaseShellOptions): FilledOptions {
  if (typeof options?.dir !== 'string' || options.dir === '') throw new TypeError('options.dir must be a non-empty string')
  // An option given as undefined takes its default, as one left out does.
  const merged = { ...kDefaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as HBaseShellOptions }
  const o: FilledOptions = {
    shellDir: repoDir(join('hbase', 'shell')),
    java: process.env.JAVA_HOME != null && process.env.JAVA_HOME !== '' ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java',
    ...merged,
    dir: resolve(options.dir)
  }
  o.shellDir = resolve(o.shellDir)
  if (typeof o.zkHost !== 'string' || o.zkHost === '') throw new TypeError('options.zkHost must be a non-empty string')
  if (!Number.isInteger(o.zkPort) || o.zkPort < 1 || o.zkPort > 65535) throw new RangeError('options.zkPort must be an integer from 1 to 65535')
  if (!Array.isArray(o.args) || !o.args.every(a => typeof a === 'string')) throw new TypeError('options.args must be an array of strings')
  if (!Number.isInteger(o.heapMb) || o.heapMb < 128) throw new RangeError('options.heapMb must be an integer of at least 128')
  if (!Number.isInteger(o.connectTimeoutMs) || o.connectTimeoutMs < 1) throw new RangeError('options.connectTimeoutMs must be a positive integer')
  if (typeof o.java !== 'string' || o.java === '') throw new TypeError('options.java must be a non-empty string')
  return o
}

/** The config directory for this ZooKeeper, written at every call. */
function writeConfig (o: FilledOptions): string {
  const conf = join(o.dir, 'conf', `${o.zkHost}-${o.zkPort}`)
  mkdirSync(conf, { recursive: true })
  writeFileSync(join(conf, 'hbase-site.xml'), siteXml('daemon/hbase-shell.ts', {
    'hbase.zookeeper.quorum': o.zkHost,
    'hbase.zookeeper.property.clientPort': o.zkPort,
    // HBase's client defaults retry for minutes; a shell should say within seconds that HBase went away.
    // `-Dkey=value` in options.args overrides any of these.
    'hbase.client.retries.number': 7,
    'hbase.ipc.client.connect.max.retries': 3,
    'hbase.client.operation.timeout': 60000,
    'hbase.client.meta.operation.timeout': 60000,
    'zookeeper.recovery.retry': 1
  }))
  return conf
}

/** Resolves the classpath and writes the config, then returns the command line that runs the shell. */
export async function shellCommand (options: HBaseShellOptions): Promise<HBaseShellCommand> {
  const o = checkOptions(options)
  mkdirSync(o.dir, { recursive: true })
  const cp = await mavenClasspath(join(o.shellDir, 'pom.xml'), o.dir)
  const conf = writeConfig(o)
  return {
    java: o.java,
    args: [
      `-Xmx${o.heapMb}m`,
      '-Djava.net.preferIPv4Stack=true',
      ...JDK17_FLAGS,
      `-Dlog4j2.configurationFile=${join(o.shellDir, 'log4j2.properties')}`,
      MAIN_CLASS,
      ...o.args
    ],
    // The generated config comes first, so HBase reads it instead of hbase-default.xml's defaults.
    env: { ...process.env, CLASSPATH: `${conf}:${cp}` }
  }
}

/** Resolves once host:port accepts a TCP connection; rejects after timeoutMs. */
async function reachable (host: string, port: number, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port })
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`timed out after ${timeoutMs} ms`)))
    socket.once('connect', () => { socket.destroy(); resolve() })
    socket.once('error', reject)
  })
}

/**
 * Runs an HBase shell until it exits and resolves with its exit status (128 + the signal number if a
 * signal ended it). By default it is interactive on this process's terminal; while it runs this process
 * ignores SIGINT, which the terminal sends to both and which the shell uses to interrupt a command. Rejects
 * without starting the JVM if ZooKeeper does not accept a connection.
 */
export async function openShell (options: HBaseShellOptions): Promise<number> {
  const o = checkOptions(options)
  try {
    await reachable(o.zkHost, o.zkPort, o.connectTimeoutMs)
  } catch (err) {
    throw new Error(`no ZooKeeper at ${o.zkHost}:${o.zkPort} (${(err as Error).message}); is HBase running?`)
  }
  const command = await shellCommand(options)
  const child = spawn(command.java, command.args, { stdio: o.stdio, env: command.env })
  const ignore = (): void => {}
  process.on('SIGINT', ignore)
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', err => reject(new Error(`could not run ${command.java} (the HBase shell needs JDK 17; set JAVA_HOME or options.java): ${err.message}`)))
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal != null ? constants.signals[signal] ?? 0 : 0)))
    })
  } finally {
    process.off('SIGINT', ignore)
  }
}
