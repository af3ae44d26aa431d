// Ending an answer without a body, and why answers close their connection while the collector drains.
//
// From SIGTERM until the listen sockets close (shutdown.drain_seconds), every answer says `Connection: close` and
// ends its connection: a load balancer then holds no idle connection to this node when the sockets close, so it
// never sends a request into a connection that is being torn down. The body-carrying answers do it with uWS's
// `end(body, true)`; this is the one for answers without a body.

import type { HttpResponse } from 'uWebSockets.js'

/**
 * Ends an answer without a body (HEAD, 304). This uWS build aborts the process when endWithoutBody is given a
 * length other than 0, which it would then report, so while draining the header is written by hand and the
 * client closes the connection.
 */
export function endHead (res: HttpResponse, close: boolean): void {
  if (close) res.writeHeader('Connection', 'close')
  res.endWithoutBody()
}
