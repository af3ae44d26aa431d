// The cold start from tracking: the items a user the model does not know viewed before they sent any signal,
// read from the by-user event table under every uid the identity table links to them (docs/recommendations.md#cold-start).

import type { HBaseClient } from '../hbase/client'
import { resolveUser } from '../hbase/identity'
import { scanPrefix } from '../hbase/reader'
import { userRowPrefix } from '../native'

export interface TrackedItems {
  /** The items viewed, each once. */
  items: string[]
  /** How many of their events named each item, in the order of `items`. */
  events: number[]
  /** The uids read, sorted. */
  uids: string[]
}

export interface ColdStartOptions {
  userTable: string
  identityTable: string
  saltBuckets: number
  /** Newest events read per uid (`recommend.cold_start_events`). */
  maxEvents: number
}

/**
 * What tracking knows of login `login` (an `l:` id): one prefix scan of the by-user table per uid of their group
 * (newest events first, at most `maxEvents` each), bots' events left out, counted per item.
 */
export async function trackedItems (client: HBaseClient, o: ColdStartOptions, login: string): Promise<TrackedItems> {
  const group = await resolveUser(client, { identityTable: o.identityTable, saltBuckets: o.saltBuckets }, login)
  const uids = group.ids.filter(id => id.startsWith('u:')).map(id => id.slice(2))
  const counts = new Map<string, number>()
  const read = await Promise.all(uids.map(async uid => await scanPrefix(client, o.userTable, userRowPrefix(uid, o.saltBuckets), o.maxEvents)))
  for (const rows of read) {
    for (const { cells } of rows) {
      const item = cells.it
      if (item === undefined || item === '' || cells.bot === '1') continue
      counts.set(item, (counts.get(item) ?? 0) + 1)
    }
  }
  return { items: [...counts.keys()], events: [...counts.values()], uids }
}
