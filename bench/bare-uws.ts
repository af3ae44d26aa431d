// The ceiling for bench/run.ts: bare uWebSockets.js answering GET /p.gif with spoor's GIF and headers, and doing nothing else.
//
// Usage: node dist/bench/bare-uws.js [--port N]   (0, the default, picks a free port)
// Prints {"msg":"listening","port":N} like the daemon's log line, and exits on SIGTERM or SIGINT.

import * as uws from 'uWebSockets.js'
import type { us_listen_socket } from 'uWebSockets.js'
// Loading spoor's server module costs start-up time only; its GIF stays the one source of the bytes.
import { GIF } from '../daemon/http/intake'

// The same header values as daemon/server.ts; run.ts checks that every contender answers alike.
const H_CONTENT_TYPE = Buffer.from('Content-Type')
const H_CACHE_CONTROL = Buffer.from('Cache-Control')
const V_GIF = Buffer.from('image/gif')
const V_NO_STORE = Buffer.from('no-store, no-cache, must-revalidate, max-age=0')

const portArg = process.argv.indexOf('--port')
const port = portArg === -1 ? 0 : Number(process.argv[portArg + 1])

uws.App()
  .get('/p.gif', res => {
    res.writeHeader(H_CONTENT_TYPE, V_GIF)
    res.writeHeader(H_CACHE_CONTROL, V_NO_STORE)
    res.end(GIF)
  })
  .listen('127.0.0.1', port, (token: us_listen_socket | false) => {
    if (token === false) {
      console.error(`cannot listen on 127.0.0.1:${port}`)
      process.exit(1)
    }
    console.log(JSON.stringify({ msg: 'listening', port: uws.us_socket_local_port(token) }))
  })

// Open keep-alive connections would hold the loop open after closing the listen socket, so exit outright.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0))
