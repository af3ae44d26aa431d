// `spoor user|range|identity|erase`: read one user's or one time range's events, resolve an id, erase a user.

import type { Config } from '../config'
import { SpoorError } from '../errors'
import { eraseUser, erasureId, type Erasure } from '../hbase/erase'
import { noteErasure } from '../recommend/erasures'
import { modelsDir } from '../recommend/train'
import { ID_TYPES, parseId, resolveUser, type Resolution } from '../hbase/identity'
import { scanPrefix, scanTimeRange, type Row } from '../hbase/reader'
import { userRowPrefix } from '../native'
import { parseInteger, parseTime, withClient, type Context, type Options } from './shared'

export async function userCommand ({ sub, opts, config }: Context): Promise<void> {
  if (sub == null) throw new SpoorError('USAGE', 'user needs a UID')
  const limit = parseInteger(opts.limit as string, '--limit')
  printRows(opts, await withClient(config, async c => await scanPrefix(c, config.hbase.userTable, userRowPrefix(sub, config.hbase.saltBuckets), limit)))
}

export async function rangeCommand ({ opts, config }: Context): Promise<void> {
  const from = parseTime(opts.from, '--from')
  const to = parseTime(opts.to, '--to')
  const limit = parseInteger(opts.limit as string, '--limit')
  printRows(opts, await withClient(config, async c => await scanTimeRange(c, config.hbase.timeTable, config.hbase.saltBuckets, from, to, limit)))
}

export async function identityCommand ({ sub, opts, config }: Context): Promise<void> {
  if (sub == null) throw new SpoorError('USAGE', 'identity needs an ID written t:value, such as l:alice')
  try {
    parseId(sub)
  } catch (err) {
    throw new SpoorError('USAGE', (err as Error).message)
  }
  const options = { identityTable: config.hbase.identityTable, saltBuckets: config.hbase.saltBuckets, probabilistic: opts.probabilistic as boolean }
  printResolution(opts, await withClient(config, async c => await resolveUser(c, options, sub)))
}

export async function eraseCommand ({ opts, config }: Context): Promise<void> {
  if (opts.user == null) throw new SpoorError('USAGE', 'erase needs --user ID, written t:value (such as l:alice) or a plain uid')
  let id: string
  try {
    id = erasureId(opts.user)
  } catch (err) {
    throw new SpoorError('USAGE', (err as Error).message)
  }
  const h = config.hbase
  const options = { userTable: h.userTable, timeTable: h.timeTable, identityTable: h.identityTable, signalsTable: config.recommend.signalsTable, saltBuckets: h.saltBuckets, dryRun: opts['dry-run'] as boolean }
  const erasure = await withClient(config, async c => await eraseUser(c, options, id))
  // The recommendation servers drop the person's vectors once they read the list (recommend.reload_ms).
  const noted = erasure.dryRun ? undefined : noteErasure(modelsDir(config), [erasure.id, ...erasure.ids], Date.now())
  printErasure(opts, { ...erasure, modelsNoted: noted ?? null }, config)
}

function printRows (opts: Options, rows: Row[]): void {
  for (const row of rows) {
    if (opts.json) {
      console.log(JSON.stringify({ ts: row.ts, ...row.cells }))
      continue
    }
    const c = row.cells
    const rest = Object.entries(c).filter(([k]) => !['uid', 'a', 'url'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ')
    console.log(`${new Date(row.ts).toISOString()}  ${c.uid ?? '-'}  ${c.a ?? '-'}  ${c.url ?? '-'}  ${rest}`)
  }
  if (!opts.json) console.log(`(${rows.length} event${rows.length === 1 ? '' : 's'})`)
}

function printResolution (opts: Options, r: Resolution): void {
  if (opts.json as boolean) {
    console.log(JSON.stringify(r))
    return
  }
  console.log(`canonical user: ${r.canonical}`)
  console.log(`linked ids (${r.ids.length}${r.truncated ? ', the walk stopped at its limit' : ''}):`)
  for (const id of r.ids) console.log(`  ${id.padEnd(40)} ${ID_TYPES[id[0]]}`)
  if (r.logins.length > 0) console.log('logins seen with these ids, the most recent first:')
  for (const l of r.logins) console.log(`  ${l.id.padEnd(40)} last seen ${new Date(l.lastSeen).toISOString()}${l.platform !== '' ? ` on ${l.platform}` : ''}`)
}

function printErasure (opts: Options, e: Erasure & { modelsNoted: string | null }, config: Config): void {
  const tables = config.hbase
  if (opts.json as boolean) {
    console.log(JSON.stringify(e))
    return
  }
  console.log(`${e.dryRun ? 'would erase' : 'erased'} ${e.id}${e.dryRun ? ' (dry run: nothing deleted)' : ''}`)
  const line = (n: number, what: string, table: string): void => console.log(`  ${String(n).padStart(8)}  ${what.padEnd(26)} ${table}`)
  line(e.userRows, 'event rows by user', tables.userTable)
  line(e.timeRows, 'event rows by time', tables.timeTable)
  line(e.signalRows, 'signal rows', config.recommend.signalsTable)
  line(e.identityRows, 'identity rows', tables.identityTable)
  line(e.identityCells, 'links in other ids\' rows', tables.identityTable)
  console.log(`ids erased (${e.ids.length}):`)
  for (const id of e.ids) console.log(`  ${id.padEnd(40)} ${ID_TYPES[id[0]]}`)
  if (e.shared.length > 0) console.log(`shared with ${e.otherLogins.join(', ')}, erased with all their events: ${e.shared.join(', ')}`)
  if (e.modelsNoted !== null) console.log(`recommendation models: listed in ${e.modelsNoted}; servers drop the vectors within ${config.recommend.reloadMs} ms`)
}
