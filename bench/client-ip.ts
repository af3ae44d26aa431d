// The cost of finding the client address behind trusted proxies: clientIp per call, in nanoseconds, by case.
//
// Usage: node dist/bench/client-ip.js [--scale F] [--out FILE]
//   (--scale multiplies every case's call count, default 1: about 14M calls, a few seconds; prints one JSON line,
//   and writes it to FILE too)
// Each case warms up with a tenth of its calls, then times the rest in one loop; the sum of the result lengths is
// kept so that the calls cannot be optimised away.

import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { clientIp, parseTrustedProxies } from '../daemon/http/client-ip'

export interface ClientIpResult {
  node: string
  cpu: string
  /** Nanoseconds per call, by case. */
  nsPerCall: Record<string, number>
  command: string
}

function measure (n: number, call: (i: number) => Uint8Array): number {
  let sink = 0
  for (let i = 0; i < n / 10; i++) sink += call(i).length
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) sink += call(i).length
  const ns = Number(process.hrtime.bigint() - start) / n
  if (sink === 0) throw new Error('clientIp returned nothing')
  return Math.round(ns * 10) / 10
}

export function clientIpBench (scale = 1): ClientIpResult {
  const none = parseTrustedProxies([])
  const trusted = parseTrustedProxies(['10.0.0.0/8', 'fd00::/8', '::1/128'])
  const lb = Uint8Array.from([10, 0, 0, 1])
  const client = Uint8Array.from([198, 51, 100, 7])
  const chain = '198.51.100.7, 10.0.0.3, 10.0.0.2'
  const clients = Array.from({ length: 65536 }, (_, i) => `198.51.${i >> 8}.${i & 0xff}, 10.0.0.3, 10.0.0.2`)
  const n = (calls: number): number => Math.max(10, Math.round(calls * scale))
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown CPU',
    nsPerCall: {
      'no trusted proxies (fast path)': measure(n(5e6), () => clientIp(client, chain, '', none)),
      'untrusted peer': measure(n(5e6), () => clientIp(client, chain, '', trusted)),
      'trusted peer, 3-hop X-Forwarded-For': measure(n(2e6), () => clientIp(lb, chain, '', trusted)),
      'trusted peer, 3-hop Forwarded': measure(n(2e6), () => clientIp(lb, '', 'for=198.51.100.7;proto=https, for=10.0.0.3, for=10.0.0.2', trusted)),
      'trusted peer, 3-hop XFF, a new client each call': measure(n(3e5), i => clientIp(lb, clients[i & 0xffff], '', trusted))
    },
    command: `node dist/bench/client-ip.js${scale === 1 ? '' : ` --scale ${scale}`}`
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { scale: { type: 'string' }, out: { type: 'string' } } })
  const scale = values.scale === undefined ? 1 : Number(values.scale)
  if (!(scale > 0)) throw new RangeError('--scale must be a positive number')
  const line = JSON.stringify(clientIpBench(scale))
  console.log(line)
  if (values.out !== undefined) writeFileSync(values.out, `${line}\n`)
}
