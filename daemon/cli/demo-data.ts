// `spoor demo-data`: write synthetic events through the collector's own stages, so that reports have something to show.

import { SpoorError } from '../errors'
import { createLogger } from '../log'
import { writeDemoData } from '../reports/demo-data'
import { withClient, type Context } from './shared'

/** Its options are checked before HBase is reached, so bad input fails at once. */
export async function demoDataCommand ({ opts, config }: Context): Promise<void> {
  const integer = (text: string | undefined, name: string, min: number): number => {
    if (text == null) throw new SpoorError('USAGE', `demo-data needs ${name}`)
    const n = /^\d+$/.test(text) ? Number(text) : NaN
    if (!Number.isSafeInteger(n) || n < min) throw new SpoorError('USAGE', `${name} must be ${min > 0 ? 'a positive' : 'a non-negative'} integer, not "${text}"`)
    return n
  }
  const events = integer(opts.events, '--events', 1)
  const days = integer(opts.days, '--days', 1)
  const seed = integer(opts.seed, '--seed', 0)
  // The flush's own warnings (retries) go to stderr; stdout is the summary.
  const log = createLogger(config.log.level === 'info' ? 'warn' : config.log.level)
  // The flush retries for ever, as a collector's should; an HBase that is not there at all is said at once instead.
  await withClient(config, async () => {})
  const started = Date.now()
  const r = await writeDemoData(config, log, {
    events,
    days,
    seed,
    onProgress: (encoded, delivered) => console.error(`spoor: ${encoded} events generated, ${delivered} acknowledged by HBase (${((Date.now() - started) / 1000).toFixed(0)} s)`)
  })
  const rate = Math.round(r.events / r.seconds)
  console.log(`wrote ${r.events} events (${r.retries} retries of an earlier event, ${r.bots} from a crawler) from ${r.uids} uids over ${r.days} days,`)
  console.log(`  ${new Date(r.from).toISOString()} to ${new Date(r.to).toISOString()}; ${r.loggedInOnTwoPlatforms} logins seen on two platforms`)
  console.log(`  ${r.batches} batches acknowledged by HBase (${config.hbase.timeTable}, ${config.hbase.userTable}, ${config.hbase.identityTable}) in ${r.seconds.toFixed(1)} s, ${rate} events/s`)
}
