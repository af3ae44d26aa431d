// What a Node user would write for a tracking pixel: node:http answering GET /p.gif with the GIF, and pino logging
// each hit's fields to a file through its asynchronous destination, for a log shipper to tail.
//
// Usage: node dist/bench/node-pino.js --log FILE [--port N]   (0, the default, picks a free port)
// Prints {"msg":"listening","port":N} like spoor's log line, and exits on SIGTERM or SIGINT after flushing the log.

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import pino from 'pino'
// Loading spoor's server module costs start-up time only; its GIF stays the one source of the bytes.
import { GIF } from '../daemon/http/intake'

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, log: { type: 'string' } } })
if (values.log === undefined) throw new Error('--log FILE is required')

// sync: false buffers in memory and writes in the background, as a production pino setup does.
const destination = pino.destination({ dest: values.log, sync: false, minLength: 4096 })
const log = pino({ base: null }, destination)

const server = createServer((req, res) => {
  if (req.method !== 'GET' || req.url?.startsWith('/p.gif') !== true) {
    res.writeHead(404).end()
    return
  }
  log.info({ url: req.url, ip: req.socket.remoteAddress, ua: req.headers['user-agent'], ref: req.headers.referer, cookie: req.headers.cookie })
  res.writeHead(200, {
    'Content-Type': 'image/gif',
    'Cache-Control': 'no-store, no-cache, must-revalidate, max-age=0',
    'Content-Length': GIF.length
  })
  res.end(GIF)
})

server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port }))
})

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    destination.flushSync()
    process.exit(0)
  })
}
