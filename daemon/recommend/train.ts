// `spoor recommend train`: runs the training job (jobs/ Train.java) on Spark over the stored signals and the tracked
// history, and reads back the model generations it writes.

import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Config } from '../config'
import { SpoorError } from '../errors'
import { runSparkJob } from '../reports/reports'

const DAY_MS = 86400000

/** The format of the generations this spoor reads, as Train.java's FORMAT writes it. */
export const GENERATION_FORMAT = 2

/** The generation's files, as Train.java writes them; the server checks `format` before it loads one. */
export interface GenerationMeta {
  format: typeof GENERATION_FORMAT
  generation: string
  trainedAt: string
  rank: number
  iterations: number
  regParam: number
  alpha: number
  weights: Record<string, number>
  trackWeight: number
  history: { from: number, to: number }
  users: number
  items: number
  signals: number
  trackedEvents: number
  /** The newest signal's ts, ms; signals after it are not in the model. null when there was none. */
  lastSignalTs: number | null
  identityRead: string
  /** Most items in each list of popular.json. */
  popularTop: number
}

/**
 * One list of popular.json: the items most people viewed, most first, among the tracked events of a channel and
 * country, of a channel, of a country (the other key null), or, both null, among everything trained on.
 */
export interface PopularList {
  channel: string | null
  country: string | null
  items: string[]
  people: number[]
}

/** A model generation as read back: its meta, its ids in factor order, and its factors, `rank` floats a row. */
export interface Generation {
  dir: string
  meta: GenerationMeta
  users: string[]
  items: string[]
  userFactors: Float32Array
  itemFactors: Float32Array
  /** The preferences trained: records of (user index u32, item index u32, strength f32), little-endian. */
  strengths: Buffer
  popular: PopularList[]
}

/** recommend.models_dir, or models/ under data_dir; absolute, as the JVM takes it. */
export function modelsDir (config: Config): string {
  return resolve(config.recommend.modelsDir !== '' ? config.recommend.modelsDir : join(config.dataDir, 'models'))
}

/** The job's arguments: where the signals and events are, the weights, ALS's parameters and the history window. */
export function trainArguments (config: Config, now: number): string[] {
  const r = config.recommend
  const h = config.hbase
  // With no history, an empty window: the job then reads no event at all.
  const from = r.trackWeight === 0 ? now : now - r.historyDays * DAY_MS
  return [
    '--from', String(from), '--to', String(now),
    '--zk', h.zookeeperQuorum, '--time-table', h.timeTable, '--identity-table', h.identityTable, '--buckets', String(h.saltBuckets),
    '--identity-ids-max', String(config.reports.identityIdsMax),
    '--signals-table', r.signalsTable,
    '--weights', Object.entries(r.weights).map(([k, w]) => `${k}=${w}`).join(','),
    '--track-weight', String(r.trackWeight),
    '--rank', String(r.rank), '--iterations', String(r.iterations), '--reg', String(r.regParam), '--alpha', String(r.alpha),
    '--models-dir', modelsDir(config),
    ...(r.checkpointDir !== '' ? ['--checkpoint-dir', r.checkpointDir] : [])
  ]
}

/**
 * Trains a new model generation on `master`; resolves with its directory's name. `extra` arguments go to the job as
 * they are (`--ratings FILE` trains on given preferences instead of the stored ones: `spoor recommend eval`).
 */
export async function train (config: Config, master: string, now = Date.now(), extra: string[] = []): Promise<string> {
  const before = new Set(generations(config))
  const logFile = join(config.dataDir, 'recommend', 'train.log')
  await runSparkJob(config, { className: 'dev.spoor.jobs.Train', name: 'train', args: [...trainArguments(config, now), ...extra], master, logFile, failure: 'TRAIN_FAILED' })
  const made = generations(config).filter(g => !before.has(g))
  if (made.length !== 1) throw new SpoorError('TRAIN_FAILED', `the job exited 0 but wrote ${made.length} generations to ${modelsDir(config)} (log: ${logFile})`)
  const all = generations(config)
  for (const old of all.slice(0, Math.max(0, all.length - config.recommend.keepGenerations))) rmSync(join(modelsDir(config), old), { recursive: true, force: true })
  return made[0]
}

/** The names of the complete generations, oldest first (names sort by the time they were trained). */
export function generations (config: Config): string[] {
  const dir = modelsDir(config)
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter(name => !name.startsWith('.') && existsSync(join(dir, name, 'meta.json'))).sort()
}

/** A generation's meta.json, refused with SPOOR_E_MODEL_INVALID when it is of another format. */
export function checkMeta (dir: string, text: string): GenerationMeta {
  const meta = JSON.parse(text) as GenerationMeta
  if (meta.format !== GENERATION_FORMAT) throw new SpoorError('MODEL_INVALID', `${dir} is format ${String(meta.format)}; this spoor reads format ${GENERATION_FORMAT} (train again)`)
  return meta
}

/** Reads a generation's files; a generation of another format, or one whose files disagree, is refused. */
export function readGeneration (config: Config, name: string): Generation {
  const dir = join(modelsDir(config), name)
  const meta = checkMeta(dir, readFileSync(join(dir, 'meta.json'), 'utf8'))
  const users = JSON.parse(readFileSync(join(dir, 'users.json'), 'utf8')) as string[]
  const items = JSON.parse(readFileSync(join(dir, 'items.json'), 'utf8')) as string[]
  const floats = (file: string, rows: number): Float32Array => {
    const bytes = readFileSync(join(dir, file))
    if (bytes.length !== rows * meta.rank * 4) throw new SpoorError('MODEL_INVALID', `${join(dir, file)} holds ${bytes.length} bytes, not ${rows} rows of ${meta.rank} floats`)
    // Little-endian on disk, as on every platform spoor runs on; one copy, which also aligns the floats.
    return new Float32Array(new Uint8Array(bytes).buffer)
  }
  const strengths = readFileSync(join(dir, 'strengths.bin'))
  const popular = JSON.parse(readFileSync(join(dir, 'popular.json'), 'utf8')) as PopularList[]
  return { dir, meta, users, items, userFactors: floats('user-factors.f32', users.length), itemFactors: floats('item-factors.f32', items.length), strengths, popular }
}
