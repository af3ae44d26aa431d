// A serving thread: the worker entry of a server (serving.ts), reaching the main thread through its port.

import { parentPort, workerData } from 'node:worker_threads'
import { serve, type ThreadData } from './serving'

const port = parentPort as NonNullable<typeof parentPort>
serve(workerData as ThreadData, {
  send: (message, transfer = []) => port.postMessage(message, transfer),
  onMessage: handler => port.on('message', handler)
})
