// Creates spoor's two event tables, its identity table and its signals table in HBase, pre-split by salt bucket, and its reports table, and keeps their family settings as configured.

import { hbaseSchema, optionRange } from '../native'
import { HBaseError, type FamilySpec, type HBaseClient } from './client'
import ttypes = require('./thrift-gen/hbase_types')

/** HBase's TTL for "keep forever" (HConstants.FOREVER, Integer.MAX_VALUE seconds). */
const FOREVER = 2147483647

export interface SchemaOptions {
  /** The by-user table, `name` (default namespace) or `ns:name`; the namespace must exist. */
  userTable: string
  /** The by-time table, named like `userTable` and different from it. */
  timeTable: string
  /** The identity-link table (family `l`), named like `userTable` and different from both; not created when undefined. */
  identityTable?: string
  /** The reports table (family `r`, docs/reports.md), named like `userTable` and different from the others; not created when undefined. */
  reportsTable?: string
  /** Seconds a report row lives, as `ttlSeconds`; undefined or 0 keeps reports forever. */
  reportsTtlSeconds?: number
  /** The recommendation signals table (family `s`, daemon/hbase/signals.ts), named like `userTable` and different from the others; not created when undefined. */
  signalsTable?: string
  /** Seconds a signal cell lives, counted from the signal's ts, as `ttlSeconds`; undefined or 0 keeps signals forever. */
  signalsTtlSeconds?: number
  /** N, the number of salt and bucket values, 1–256: new tables are pre-split at the single bytes 1 … N−1. */
  saltBuckets: number
  /** Seconds a cell lives, 1 – 2^31−1; undefined or 0 keeps cells forever. Applied to existing tables as well. */
  ttlSeconds?: number
}

/** What `ensureSchema` did to one table. */
export type SchemaAction = 'created' | 'updated' | 'unchanged'

function checkOptions (options: SchemaOptions): void {
  if (typeof options.userTable !== 'string' || options.userTable === '') throw new TypeError('options.userTable must be a non-empty string')
  if (typeof options.timeTable !== 'string' || options.timeTable === '') throw new TypeError('options.timeTable must be a non-empty string')
  if (options.userTable === options.timeTable) throw new RangeError('options.userTable and options.timeTable must differ')
  const id = options.identityTable
  if (id !== undefined && (typeof id !== 'string' || id === '')) throw new TypeError('options.identityTable must be a non-empty string')
  if (id === options.userTable || id === options.timeTable) throw new RangeError('options.identityTable must differ from options.userTable and options.timeTable')
  const reports = options.reportsTable
  if (reports !== undefined && (typeof reports !== 'string' || reports === '')) throw new TypeError('options.reportsTable must be a non-empty string')
  if (reports !== undefined && [options.userTable, options.timeTable, id].includes(reports)) throw new RangeError('options.reportsTable must differ from the other tables')
  const signals = options.signalsTable
  if (signals !== undefined && (typeof signals !== 'string' || signals === '')) throw new TypeError('options.signalsTable must be a non-empty string')
  if (signals !== undefined && [options.userTable, options.timeTable, id, reports].includes(signals)) throw new RangeError('options.signalsTable must differ from the other tables')
  checkSaltBuckets(options.saltBuckets, 'options.saltBuckets')
  const ttl = options.ttlSeconds
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > FOREVER)) throw new RangeError('options.ttlSeconds must be an integer from 0 to 2147483647')
  const reportsTtl = options.reportsTtlSeconds
  if (reportsTtl !== undefined && (!Number.isInteger(reportsTtl) || reportsTtl < 0 || reportsTtl > FOREVER)) throw new RangeError('options.reportsTtlSeconds must be an integer from 0 to 2147483647')
  const signalsTtl = options.signalsTtlSeconds
  if (signalsTtl !== undefined && (!Number.isInteger(signalsTtl) || signalsTtl < 0 || signalsTtl > FOREVER)) throw new RangeError('options.signalsTtlSeconds must be an integer from 0 to 2147483647')
}

type Wanted = Required<Pick<FamilySpec, 'maxVersions' | 'bloomnFilterType' | 'timeToLive'>>

/** The settings spoor wants for the family; HBase's defaults for everything else. */
function wanted (ttlSeconds: number | undefined): Wanted {
  return {
    // Replaying a batch rewrites the same cells with the same timestamps, so one version is all there is.
    maxVersions: 1,
    // Reads are by row (prefix scans and gets); a row bloom lets them skip store files.
    bloomnFilterType: ttypes.TBloomFilterType.ROW,
    timeToLive: ttlSeconds === undefined || ttlSeconds === 0 ? FOREVER : ttlSeconds
  }
}

/**
 * Checks N, the salt and bucket count (`hbase.salt_buckets`), for the TypeScript callers that take it, with the
 * message the native module gives for its own (`native/src/options.rs`): `<name> must be an integer from 1 to 256`.
 */
export function checkSaltBuckets (n: number, name: string): void {
  const { min, max } = optionRange('saltBuckets')
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}`)
}

/** Split keys that give one region per salt value: the single bytes 1 … N−1. */
export function saltSplitKeys (saltBuckets: number): Buffer[] {
  return Array.from({ length: saltBuckets - 1 }, (_, i) => Buffer.from([i + 1]))
}

async function ensureTable (client: HBaseClient, table: string, family: string, saltBuckets: number, want: Wanted): Promise<SchemaAction> {
  if (!await client.tableExists(table)) {
    try {
      await client.createTable(table, [{ name: Buffer.from(family), ...want }], saltSplitKeys(saltBuckets))
      return 'created'
    } catch (err) {
      // Another process created it since tableExists; fall through and check its settings.
      if (!(err instanceof HBaseError && err.kind === 'io' && err.message.includes('TableExistsException'))) throw err
    }
  }
  const desc = await client.getTableDescriptor(table)
  const current = desc.columns?.find(c => c.name.toString() === family)
  if (current === undefined) throw new Error(`HBase table ${table} exists but has no column family '${family}', so spoor did not create it; choose another table name`)
  const stale = Object.entries(want).some(([key, value]) => current[key as keyof typeof current] !== value)
  if (!stale) return 'unchanged'
  // modifyColumnFamily replaces the whole family, so send every typed setting it has with the wanted ones over them.
  await client.modifyColumnFamily(table, { ...current, ...want })
  return 'updated'
}

// The families and qualifiers are defined once, in native/src/schema.rs, which the flush writes with.
const names = hbaseSchema()

/** The one column family of the by-user and by-time tables (docs/hbase-schema.md). */
export const FAMILY = names.family

/** The qualifiers of FAMILY, indexed by the qualifier id of a batch record; `br` … `bot` are added by the flush. */
export const QUALIFIERS: readonly string[] = Object.freeze(names.qualifiers)

/** The identity table's one family: links (`native/src/links.rs`). */
export const LINK_FAMILY = names.linkFamily

/** The reports table's one family: one JSON cell per section of a report (`jobs/`, daemon/reports/reports.ts). */
export const REPORT_FAMILY = names.reportFamily

/** The signals table's one family: a signal's user, item and kind (daemon/hbase/signals.ts). */
export const SIGNAL_FAMILY = 's'

/**
 * Creates the recommendation signals table if it is missing, with SIGNAL_FAMILY, pre-split at the salt boundaries
 * like the by-user table whose salt it shares, and brings an existing one to one version, a row bloom filter and
 * the TTL. `spoor hbase init` calls it through `ensureSchema`; the tests call it for tables of their own.
 */
export async function ensureSignalsTable (client: HBaseClient, table: string, saltBuckets: number, ttlSeconds?: number): Promise<SchemaAction> {
  checkSaltBuckets(saltBuckets, 'saltBuckets')
  return await ensureTable(client, table, SIGNAL_FAMILY, saltBuckets, wanted(ttlSeconds))
}

/**
 * Creates the by-user and by-time tables if they are missing, each with the one family FAMILY, and the
 * identity table with LINK_FAMILY and the signals table with SIGNAL_FAMILY, all pre-split at the salt boundaries, and the reports table with REPORT_FAMILY, and brings an existing table's family to
 * one version, a row bloom filter and the wanted TTL.
 * Returns what it did, keyed by table name.
 */
export async function ensureSchema (client: HBaseClient, options: SchemaOptions): Promise<Record<string, SchemaAction>> {
  checkOptions(options)
  const want = wanted(options.ttlSeconds)
  const done: Record<string, SchemaAction> = {
    [options.userTable]: await ensureTable(client, options.userTable, FAMILY, options.saltBuckets, want),
    [options.timeTable]: await ensureTable(client, options.timeTable, FAMILY, options.saltBuckets, want)
  }
  if (options.identityTable !== undefined) {
    done[options.identityTable] = await ensureTable(client, options.identityTable, LINK_FAMILY, options.saltBuckets, want)
  }
  if (options.reportsTable !== undefined) {
    // A few rows per day of reports: one region, no split.
    done[options.reportsTable] = await ensureTable(client, options.reportsTable, REPORT_FAMILY, 1, wanted(options.reportsTtlSeconds))
  }
  if (options.signalsTable !== undefined) {
    done[options.signalsTable] = await ensureSignalsTable(client, options.signalsTable, options.saltBuckets, options.signalsTtlSeconds)
  }
  return done
}
