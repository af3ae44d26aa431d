// `spoor buffer [replay]`: what the buffer holds unflushed and as dead letters, and moving the dead letters back.

import { SpoorError } from '../errors'
import { EventBuffer } from '../pipeline/buffer'
import type { Context } from './shared'

export async function bufferCommand ({ sub, config }: Context): Promise<void> {
  if (sub === 'replay') {
    const url = `http://${config.admin.host}:${config.admin.port}/dead-letters/replay`
    const res = await fetch(url, { method: 'POST' })
      .catch((err: Error) => { throw new SpoorError('ADMIN_UNAVAILABLE', `${url}: ${err.message}; is the collector running, with admin.enabled?`) })
    if (!res.ok) throw new SpoorError('ADMIN_UNAVAILABLE', `${url} answered ${res.status}: ${await res.text()}`)
    console.log(`dead letters moved back into the buffer: ${((await res.json()) as { replayed: number }).replayed}`)
    return
  }
  const buffer = new EventBuffer(config.dataDir)
  console.log(`unflushed: ${buffer.batchCount} batches, ${buffer.size} bytes`)
  let dead = 0
  for (const d of buffer.deadLetters()) {
    dead++
    console.log(`dead letter ${d.seq}: ${d.batch.length} bytes at ${new Date(d.at).toISOString()}: ${d.reason}`)
  }
  console.log(`dead letters: ${dead}`)
  await buffer.close()
}
