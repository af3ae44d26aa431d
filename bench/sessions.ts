// The main thread's cost of session assignment: `Sessions.assign` on batches of the real encoder's pixels.
//
// Usage: node dist/bench/sessions.js [--batches N] [--users U] [--rounds R] [--out FILE]
//   (defaults 500, 1000, 5; prints one JSON line, and writes it to FILE too)
// Each batch holds 1000 pixel events of U known users, 1 ms apart: every 50th page carries a campaign and every 10th
// an external referrer, so sessions split as on real traffic. The batches are encoded first, then each round times
// `assign` over them with a fresh state that one batch before them has filled with every user, so that the users are
// known, as in docs/sessions.md.

import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { defaults } from '../daemon/config'
import { Encoder, encoderOptions, Sessions, sessionOptions } from '../daemon/native'

const EVENTS_PER_BATCH = 1000
const T0 = 1_764_000_000_000
const IP = new Uint8Array([203, 0, 113, 7]).buffer
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

export interface SessionsResult {
  batches: number
  eventsPerBatch: number
  users: number
  /** Median over the rounds of the mean time per batch, and its range. */
  usPerBatch: { median: number, min: number, max: number }
  nsPerEvent: number
  command: string
}

function batches (count: number, users: number): Buffer[] {
  const config = defaults()
  const encoder = new Encoder(encoderOptions(config))
  const uidOut = Buffer.alloc(32)
  const out: Buffer[] = []
  let n = 0
  for (let b = 0; b < count; b++) {
    for (let i = 0; i < EVENTS_PER_BATCH; i++, n++) {
      const url = n % 50 === 0 ? `https://shop.example/p/${n}?utm_source=news&utm_campaign=c${n % 7}` : `https://shop.example/p/${n}`
      const ref = n % 10 === 0 ? `https://search${n % 3}.example/` : 'https://shop.example/'
      const query = new URLSearchParams({ uid: `user-${n % users}`, a: 'page', url, ref })
      if (encoder.pixel(query.toString(), UA, '', '', IP, T0 + n, uidOut) < 0) throw new Error(`the encoder refused ${query.toString()}`)
    }
    out.push(encoder.takeBatch()!)
  }
  return out
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

export function run (count: number, users: number, rounds: number): SessionsResult {
  if (users > EVENTS_PER_BATCH) throw new RangeError(`--users must be at most ${EVENTS_PER_BATCH}, the users one batch can make known`)
  const [warm, ...input] = batches(count + 1, users)
  const options = sessionOptions(defaults())
  const perBatch: number[] = []
  for (let r = 0; r < rounds; r++) {
    const sessions = new Sessions(options)
    sessions.assign(warm)
    const start = process.hrtime.bigint()
    for (const b of input) sessions.assign(b)
    perBatch.push(Number(process.hrtime.bigint() - start) / 1000 / count)
  }
  const us = median(perBatch)
  return {
    batches: count,
    eventsPerBatch: EVENTS_PER_BATCH,
    users,
    usPerBatch: { median: us, min: Math.min(...perBatch), max: Math.max(...perBatch) },
    nsPerEvent: us * 1000 / EVENTS_PER_BATCH,
    command: ['node', ...process.argv.slice(1)].join(' ')
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { batches: { type: 'string', default: '500' }, users: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' }, out: { type: 'string' } } })
  const result = JSON.stringify(run(Number(values.batches), Number(values.users), Number(values.rounds)))
  console.log(result)
  if (values.out !== undefined) writeFileSync(values.out, result + '\n')
}
