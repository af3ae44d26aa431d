// What the local servers of development and the suite (daemon/dev/local-hbase.ts, local-rabbitmq.ts) share: their
// option checks, whether a port is taken, and the end of a log to show when one does not start.

import { readFileSync } from 'node:fs'
import { connect } from 'node:net'

export function checkPort (value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new RangeError(`options.${name} must be an integer from 1 to 65535`)
}

/** The last `lines` lines of a log file, each cut at 400 characters; empty when it cannot be read. */
export function tail (file: string, lines: number): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return ''
  }
  return text.trimEnd().split('\n').slice(-lines).map(line => line.length > 400 ? `${line.slice(0, 400)}…` : line).join('\n')
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function portInUse (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.setTimeout(1000)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
    socket.once('error', () => resolve(false))
  })
}
