// Erases one person from every table: their events by user and by time, their recommendation signals, their identity rows, and the links other ids keep to them (docs/privacy.md).

import { SpoorError } from '../errors'
import type { Delete, HBaseClient } from './client'
import { scanKeys } from './reader'
import { checkSaltBuckets, LINK_FAMILY } from './schema'
import { linksOf, parseId, resolveUser } from './identity'
import { signalDelete, userSignalKeys } from './signals'
import { identityRow, timeRowKey, userRowPrefix } from '../native'

export interface EraseOptions {
  /** The by-user table (`hbase.user_table`). */
  userTable: string
  /** The by-time table (`hbase.time_table`). */
  timeTable: string
  /** The identity table (`hbase.identity_table`). */
  identityTable: string
  /**
   * The recommendation signals table (`recommend.signals_table`); its rows of the group's logins and uids go too.
   * Left out, or a table that does not exist, erases no signals.
   */
  signalsTable?: string
  /** N (`hbase.salt_buckets`), 1–256: the salts and buckets the rows were written with. */
  saltBuckets: number
  /** Count what would be deleted and delete nothing; default false. */
  dryRun?: boolean
  /** Deletes, and existence checks, per request, 1–10000; default 1000. */
  batchSize?: number
  /**
   * Most ids the group may have, 1–1000000; default 10000. A larger group is refused whole, since erasing part
   * of it would also delete the links that lead to the rest.
   */
  maxIds?: number
}

type FilledOptions = Required<Omit<EraseOptions, 'signalsTable'>> & Pick<EraseOptions, 'signalsTable'>

const kDefaultOptions = { dryRun: false, batchSize: 1000, maxIds: 10000 }

/** What an erasure deleted, or, in a dry run, would delete. */
export interface Erasure {
  /** The id asked for, as `t:value`. */
  id: string
  dryRun: boolean
  /** The ids of the group that had anything stored: events, an identity row, or links from other ids; sorted. */
  ids: string[]
  /** Device ids of the group that were also seen with a login outside it: erased whole, events included. */
  shared: string[]
  /** Those other logins; they keep their own devices and lose only their links to the group. */
  otherLogins: string[]
  /** Event rows of the by-user table. */
  userRows: number
  /** Event rows of the by-time table. */
  timeRows: number
  /** Rows of the signals table: the signals whose user is one of the group's login ids or uids. */
  signalRows: number
  /** Identity rows of the group's ids. */
  identityRows: number
  /** Cells in the identity rows of ids outside the group that named an id of the group. */
  identityCells: number
}

const ROWKEY_BYTES = 33
const LINK_FAMILY_BYTES = Buffer.from(LINK_FAMILY)

function checkOptions (options: EraseOptions): FilledOptions {
  const o = { ...kDefaultOptions, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as FilledOptions
  checkSaltBuckets(o.saltBuckets, 'options.saltBuckets')
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > 10000) throw new RangeError('options.batchSize must be an integer from 1 to 10000')
  if (!Number.isInteger(o.maxIds) || o.maxIds < 1 || o.maxIds > 1000000) throw new RangeError('options.maxIds must be an integer from 1 to 1000000')
  return o
}

/**
 * The id to erase, as `t:value` and as the identity table names it (`parseId`): an id written so, or a plain uid,
 * which means `u:<uid>`. A uid that itself looks like `t:value` must be written `u:<uid>`. Throws a RangeError for an
 * empty id or an unknown type letter.
 */
export function erasureId (text: string): string {
  if (text === '') throw new RangeError('the id to erase is empty')
  return parseId(/^[a-z]:/.test(text) ? text : `u:${text}`).id
}

function chunks<T> (items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
}

async function existing (client: HBaseClient, table: string, rows: Buffer[], batchSize: number): Promise<Buffer[]> {
  const found: Buffer[] = []
  for (const chunk of chunks(rows, batchSize)) {
    const exists = await client.rowsExist(table, chunk)
    found.push(...chunk.filter((_, i) => exists[i]))
  }
  return found
}

async function deleteAll (client: HBaseClient, table: string, deletes: Delete[], o: FilledOptions): Promise<void> {
  if (o.dryRun) return
  for (const chunk of chunks(deletes, o.batchSize)) {
    const failed = await client.deleteMultiple(table, chunk)
    if (failed.length > 0) throw new SpoorError('ERASE_FAILED', `HBase did not apply ${failed.length} of ${chunk.length} deletes in ${table}; run the erase again`)
  }
}

/**
 * Erases the group `resolveUser` gives for `id` (a login's devices, shared ones included), in an order that lets
 * a run that failed half way be run again: each uid's by-time rows before the by-user rows they are found from,
 * the signals of the group's logins and uids, the links other ids keep to the group, and last the group's identity
 * rows, through which the group is found.
 * A second run finds only `id`, with nothing stored, and deletes nothing.
 */
export async function eraseUser (client: HBaseClient, options: EraseOptions, id: string): Promise<Erasure> {
  const o = checkOptions(options)
  const start = erasureId(id)
  const resolution = await resolveUser(client, { identityTable: o.identityTable, saltBuckets: o.saltBuckets, maxIds: o.maxIds }, start)
  if (resolution.truncated) throw new SpoorError('ERASE_FAILED', `the group of ${start} has more than ${o.maxIds} ids, more than one person has; nothing was erased (see spoor identity ${start})`)
  const group = new Set(resolution.ids)
  const found = new Set<string>()
  const erasure: Erasure = { id: start, dryRun: o.dryRun, ids: [], shared: [], otherLogins: [], userRows: 0, timeRows: 0, signalRows: 0, identityRows: 0, identityCells: 0 }

  const outside = new Set<string>()
  const otherLogins = new Set<string>()
  const groupRows: Delete[] = []
  for (const member of resolution.ids) {
    const links = await linksOf(client, o, member)
    if (links.length === 0) continue
    found.add(member)
    groupRows.push({ row: identityRow(member, o.saltBuckets) })
    const logins = links.filter(l => l.id.startsWith('l:') && !group.has(l.id))
    if (logins.length > 0 && !member.startsWith('l:')) erasure.shared.push(member)
    for (const l of logins) otherLogins.add(l.id)
    for (const l of links) if (!group.has(l.id)) outside.add(l.id)
  }

  for (const member of resolution.ids.filter(m => m.startsWith('u:'))) {
    const userKeys = await scanKeys(client, o.userTable, userRowPrefix(member.slice(2), o.saltBuckets))
    if (userKeys.length > 0) found.add(member)
    for (const chunk of chunks(userKeys, o.batchSize)) {
      // A key of another length under the prefix was not written by spoor and has no by-time twin; it goes all the same.
      // Asked rather than assumed, so that a run after an interrupted one counts only what it deletes.
      const twins = chunk.filter(k => k.length === ROWKEY_BYTES).map(k => timeRowKey(k, o.saltBuckets))
      const timeKeys = await existing(client, o.timeTable, twins, o.batchSize)
      await deleteAll(client, o.timeTable, timeKeys.map(row => ({ row })), o)
      await deleteAll(client, o.userTable, chunk.map(row => ({ row })), o)
      erasure.timeRows += timeKeys.length
      erasure.userRows += chunk.length
    }
  }

  // Signals carry the application's user id, which is the login id (l:) it gives spoor, or a uid (u:) it chose.
  if (o.signalsTable !== undefined) {
    for (const member of resolution.ids.filter(m => m.startsWith('l:') || m.startsWith('u:'))) {
      const keys = await userSignalKeys(client, o.signalsTable, member.slice(2), o.saltBuckets)
      if (keys.length > 0) found.add(member)
      await deleteAll(client, o.signalsTable, keys.map(signalDelete), o)
      erasure.signalRows += keys.length
    }
  }

  const cells: Delete[] = []
  for (const other of [...outside].sort()) {
    const named = (await linksOf(client, o, other)).filter(l => group.has(l.id))
    if (named.length === 0) continue
    for (const l of named) found.add(l.id)
    cells.push({ row: identityRow(other, o.saltBuckets), columns: named.map(l => ({ family: LINK_FAMILY_BYTES, qualifier: Buffer.from(l.id) })) })
    erasure.identityCells += named.length
  }
  await deleteAll(client, o.identityTable, cells, o)
  await deleteAll(client, o.identityTable, groupRows, o)
  erasure.identityRows = groupRows.length

  erasure.ids = [...found].sort()
  erasure.shared.sort()
  erasure.otherLogins = [...otherLogins].sort()
  return erasure
}
