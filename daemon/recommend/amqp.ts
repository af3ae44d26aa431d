// What the consumer and the publisher share about talking to RabbitMQ: connecting with a name and a clear error,
// backing off, and sleeping in a way that a stop can cut short.

import { connect, type ChannelModel } from 'amqplib'
import { SpoorError } from '../errors'

/** Full-jitter exponential backoff: a random delay up to min(max, base · 2^attempt). */
export function backoff (attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30)))
}

/** The URL without its password, for logs and errors. */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@')
  }
}

/** Seconds between heartbeats: a RabbitMQ that stops answering is noticed within about twice this. */
const HEARTBEAT_SECONDS = 10

/**
 * Opens a connection named `name` (RabbitMQ shows it in its connection list). Rejects with
 * SPOOR_E_AMQP_UNAVAILABLE naming the URL, without its password, and the cause.
 */
export async function openConnection (url: string, name: string, connectTimeoutMs = 10000): Promise<ChannelModel> {
  try {
    const u = new URL(url)
    if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(HEARTBEAT_SECONDS))
    return await connect(u.toString(), { clientProperties: { connection_name: name }, timeout: connectTimeoutMs })
  } catch (err) {
    throw new SpoorError('AMQP_UNAVAILABLE', `${redactUrl(url)}: ${describe(err)}; start a local one with \`spoor rabbitmq start\``)
  }
}

/** An error's message, or its code when it has no message (a refused connection's AggregateError has none). */
export function describe (err: unknown): string {
  const e = err as Error & { code?: string, errors?: Error[] }
  if (e?.message != null && e.message !== '') return e.message
  if (Array.isArray(e?.errors) && e.errors.length > 0) return e.errors.map(x => describe(x)).join('; ')
  return String(e?.code ?? err)
}

/** A sleep that `wake` ends early; the stop of a consumer or publisher wakes every sleeper. */
export class Sleeper {
  private readonly waiting = new Set<() => void>()

  async sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        this.waiting.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.waiting.add(done)
    })
  }

  wake (): void {
    for (const done of [...this.waiting]) done()
  }
}
