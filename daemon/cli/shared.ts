// What every `spoor` command shares: the options read from the command line, the checks of their values, and the HBase connection.

import { parseArgs } from 'node:util'
import type { Config } from '../config'
import { SpoorError } from '../errors'
import { HBaseClient } from '../hbase/client'
import { DEFAULT_PARAMS } from '../reports/reports'

/** Every option of every command, each described in ./usage.ts; parseArgs refuses any other. */
export function parseCommandLine () {
  return parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      limit: { type: 'string', default: '100' },
      from: { type: 'string' },
      to: { type: 'string' },
      day: { type: 'string' },
      master: { type: 'string' },
      ttl: { type: 'string' },
      json: { type: 'boolean', default: false },
      csv: { type: 'boolean', default: false },
      top: { type: 'string', default: String(DEFAULT_PARAMS.top) },
      'with-bots': { type: 'boolean', default: false },
      platform: { type: 'string' },
      platforms: { type: 'string' },
      channel: { type: 'string' },
      force: { type: 'boolean', default: false },
      events: { type: 'string' },
      days: { type: 'string' },
      seed: { type: 'string', default: '1' },
      probabilistic: { type: 'boolean', default: false },
      user: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'hbase-dir': { type: 'string', default: '.spoor/hbase' },
      'rabbitmq-dir': { type: 'string', default: '.spoor/rabbitmq' },
      data: { type: 'string' },
      python: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
}

export type Options = ReturnType<typeof parseCommandLine>['values']

/** What a command is given: `spoor <command> <sub> <arg>`, the options, and the loaded config with the file it came from. */
export interface Context {
  readonly sub: string | undefined
  readonly arg: string | undefined
  readonly positionals: readonly string[]
  readonly opts: Options
  readonly config: Config
  readonly configPath: string | undefined
}

export type Command = (ctx: Context) => Promise<void>

export function parseInteger (text: string, name: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) throw new SpoorError('USAGE', `${name} must be a non-negative integer, not "${text}"`)
  return n
}

export function parseTime (text: string | undefined, name: string, command = 'range'): number {
  if (text == null) throw new SpoorError('USAGE', `${command} needs ${name}`)
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  if (Number.isNaN(ms)) throw new SpoorError('USAGE', `${name} is not a time: "${text}"`)
  return ms
}

/** Runs `fn` with a client of the configured Thrift2 gateway, closed afterwards; a gateway that does not answer is HBASE_UNAVAILABLE. */
export async function withClient<T> (config: Config, fn: (client: HBaseClient) => Promise<T>): Promise<T> {
  const where = `${config.hbase.host}:${config.hbase.port}`
  const client = await HBaseClient.connect({ host: config.hbase.host, port: config.hbase.port, connectTimeoutMs: 5000, requestTimeoutMs: 60000 })
    .catch((err: Error) => { throw new SpoorError('HBASE_UNAVAILABLE', `no Thrift2 gateway at ${where} (${err.message}); start one with \`spoor hbase start\``) })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/**
 * Ends the process with `code` once stdout and stderr have handed everything written to them to their pipes.
 * process.exit alone drops what a pipe could not take yet: a reader slower than a long `--json` listing (a busy
 * machine, a pipe's 64 KiB full) got only its first rows.
 */
export function exitWhenWritten (code: number): void {
  let pending = 2
  const written = (): void => { if (--pending === 0) process.exit(code) }
  process.stdout.write('', written)
  process.stderr.write('', written)
}
