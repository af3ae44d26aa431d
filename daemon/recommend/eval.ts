// `spoor recommend eval`: how good spoor's recommendations are, side by side with the `implicit` library's ALS, on a
// ratings file such as MovieLens 100K's (docs/recommendations.md#evaluation). One fixed split: per user, the latest 20%
// of their positive ratings held out; a tenth of the users held out of training entirely and served by fold-in from
// their training-period preferences; precision, MAP and nDCG at 10 over the held-out items, items already seen left out.

import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../config'
import { SpoorError } from '../errors'
import { Recommender } from '../native'
import { repoFile } from '../repo-dir'
import { readGeneration, train } from './train'

/** A rating at or above this is a positive preference. */
export const POSITIVE_RATING = 4
/** The share of each user's positives, the latest, held out as the test set. */
export const TEST_SHARE = 0.2
/** A user is held out of training entirely (served by fold-in) when their id's hash modulo this is 0. */
export const FOLD_IN_EVERY = 10

export interface Preference {
  user: string
  item: string
  ts: number
}

/**
 * The positive preferences of a RecBole atomic `.inter` file (a header of `name:type` fields, tab-separated), or of
 * a tab- or comma-separated `user item rating timestamp` file: ratings of at least POSITIVE_RATING.
 */
export function readRatings (text: string): Preference[] {
  const lines = text.split('\n').filter(l => l.trim() !== '')
  const header = lines[0].split(/[\t,]/)
  const named = header.some(h => h.includes(':'))
  const col = (name: string, fallback: number): number => {
    const i = header.findIndex(h => h.split(':')[0] === name)
    return i >= 0 ? i : fallback
  }
  const [u, i, r, t] = named ? [col('user_id', 0), col('item_id', 1), col('rating', 2), col('timestamp', 3)] : [0, 1, 2, 3]
  const out: Preference[] = []
  for (const line of named ? lines.slice(1) : lines) {
    const f = line.split(/[\t,]/)
    if (f.length < 4 || !(Number(f[r]) >= POSITIVE_RATING)) continue
    out.push({ user: f[u], item: f[i], ts: Number(f[t]) })
  }
  return out
}

/** A small stable hash of an id, for choosing the fold-in users. */
function hash (id: string): number {
  let h = 2166136261
  for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 16777619) >>> 0
  return h
}

export interface Split {
  /** Training preferences of the users trained in. */
  train: Preference[]
  /** The training-period preferences of the users held out of training, by user. */
  foldIn: Map<string, string[]>
  /** Each evaluated user's held-out items. */
  test: Map<string, Set<string>>
  /** Each user's training-period items, which answers leave out. */
  seen: Map<string, Set<string>>
}

/** Per user, by time (ties by item), the latest TEST_SHARE of their positives held out; users with none held out are not evaluated. */
export function split (prefs: Preference[]): Split {
  const byUser = new Map<string, Preference[]>()
  for (const p of prefs) byUser.set(p.user, [...(byUser.get(p.user) ?? []), p])
  const s: Split = { train: [], foldIn: new Map(), test: new Map(), seen: new Map() }
  for (const [user, list] of [...byUser].sort(([a], [b]) => (a < b ? -1 : 1))) {
    list.sort((a, b) => a.ts - b.ts || (a.item < b.item ? -1 : 1))
    const held = Math.floor(list.length * TEST_SHARE)
    const before = list.slice(0, list.length - held)
    s.seen.set(user, new Set(before.map(p => p.item)))
    if (held > 0) s.test.set(user, new Set(list.slice(list.length - held).map(p => p.item)))
    if (hash(user) % FOLD_IN_EVERY === 0 && held > 0) s.foldIn.set(user, before.map(p => p.item))
    else s.train.push(...before)
  }
  return s
}

export interface Metrics {
  users: number
  precision: number
  map: number
  ndcg: number
}

/** Precision, MAP and nDCG at `n` (binary relevance) of each user's answer against their held-out items. */
export function metrics (answers: Map<string, string[]>, test: Map<string, Set<string>>, n: number): Metrics {
  let precision = 0
  let map = 0
  let ndcg = 0
  for (const [user, top] of answers) {
    const relevant = test.get(user)
    if (relevant === undefined) continue
    let hits = 0
    let ap = 0
    let dcg = 0
    top.slice(0, n).forEach((item, k) => {
      if (!relevant.has(item)) return
      hits++
      ap += hits / (k + 1)
      dcg += 1 / Math.log2(k + 2)
    })
    let ideal = 0
    for (let k = 0; k < Math.min(n, relevant.size); k++) ideal += 1 / Math.log2(k + 2)
    precision += hits / n
    map += ap / Math.min(n, relevant.size)
    ndcg += dcg / ideal
  }
  const users = answers.size
  return { users, precision: precision / users, map: map / users, ndcg: ndcg / users }
}

export interface EvalResult {
  data: { file: string, positives: number, users: number, items: number, trainPreferences: number, trainedUsers: number, foldInUsers: number, testItems: number }
  params: { rank: number, regParam: number, iterations: number, alpha: number, n: number }
  spoor: { trained: Metrics, foldIn: Metrics, trainSeconds: number, recommendMicros: number, foldInMicros: number }
  implicit?: { version: string, trained: Metrics, fitSeconds: number, recommendMicros: number }
}

export interface EvalOptions {
  /** The ratings file. */
  data: string
  master: string
  /** A Python with `implicit` installed, for the comparison; none skips it. */
  python?: string
  n?: number
}

/** Trains spoor's model on Spark and `implicit`'s in Python on the same split, and measures both. */
export async function evaluate (config: Config, o: EvalOptions): Promise<EvalResult> {
  const n = o.n ?? 10
  if (!existsSync(o.data)) throw new SpoorError('USAGE', `recommend eval --data ${o.data}: no such file`)
  const prefs = readRatings(readFileSync(o.data, 'utf8'))
  if (prefs.length === 0) throw new SpoorError('USAGE', `${o.data} holds no rating of ${POSITIVE_RATING} or more`)
  const s = split(prefs)
  const r = config.recommend
  const params = { rank: r.rank, regParam: r.regParam, iterations: r.iterations, alpha: r.alpha, n }
  const work = mkdtempSync(join(tmpdir(), 'spoor-eval-'))
  try {
    // spoor: the training job on the preferences as a file, every positive of strength 1, users named as logins.
    const ratings = join(work, 'ratings.csv')
    writeFileSync(ratings, s.train.map(p => `${csv(`l:${p.user}`)},${csv(p.item)},1`).join('\n') + '\n')
    const evalConfig: Config = { ...config, dataDir: work, recommend: { ...r, modelsDir: join(work, 'models'), keepGenerations: 1, trackWeight: 0 } }
    const started = Date.now()
    const name = await train(evalConfig, o.master, started, ['--ratings', ratings])
    const trainSeconds = (Date.now() - started) / 1000
    const g = readGeneration(evalConfig, name)
    const model = new Recommender({ rank: g.meta.rank, regParam: g.meta.regParam, alpha: g.meta.alpha }, g.items, bytes(g.itemFactors), g.users, bytes(g.userFactors), g.strengths)

    const trainedUsers = [...s.test.keys()].filter(u => !s.foldIn.has(u))
    const trained = new Map<string, string[]>()
    let t0 = process.hrtime.bigint()
    for (const user of trainedUsers) trained.set(user, model.recommend(`l:${user}`, n)?.items ?? [])
    const recommendMicros = Number(process.hrtime.bigint() - t0) / 1e3 / trainedUsers.length
    const folded = new Map<string, string[]>()
    t0 = process.hrtime.bigint()
    for (const [user, items] of s.foldIn) folded.set(user, model.recommendFor(items, items.map(() => 1), n)?.items ?? [])
    const foldInMicros = Number(process.hrtime.bigint() - t0) / 1e3 / Math.max(1, s.foldIn.size)

    const result: EvalResult = {
      data: {
        file: o.data,
        positives: prefs.length,
        users: s.seen.size,
        items: new Set(prefs.map(p => p.item)).size,
        trainPreferences: s.train.length,
        trainedUsers: trainedUsers.length,
        foldInUsers: s.foldIn.size,
        testItems: [...s.test.values()].reduce((a, b) => a + b.size, 0)
      },
      params,
      spoor: { trained: metrics(trained, s.test, n), foldIn: metrics(folded, s.test, n), trainSeconds, recommendMicros, foldInMicros }
    }
    if (o.python !== undefined) {
      const task = join(work, 'implicit.json')
      writeFileSync(task, JSON.stringify({ train: s.train.map(p => [p.user, p.item, 1]), users: trainedUsers, ...params }))
      const out = await new Promise<string>((resolve, reject) => {
        execFile(o.python!, [repoFile('daemon/recommend/eval-implicit.py'), task], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
          if (err != null) reject(new SpoorError('EVAL_FAILED', `${o.python!} eval-implicit.py: ${stderr.trim().split('\n').pop() ?? err.message}`))
          else resolve(stdout)
        })
      })
      const i = JSON.parse(out) as { version: string, fitSeconds: number, recommendMicros: number, top: Record<string, string[]> }
      result.implicit = { version: i.version, trained: metrics(new Map(Object.entries(i.top)), s.test, n), fitSeconds: i.fitSeconds, recommendMicros: i.recommendMicros }
    }
    return result
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

function csv (value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

function bytes (f: Float32Array): Buffer {
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength)
}

/** The result as a table. */
export function printEval (e: EvalResult): string {
  const m = (x: Metrics): string => `${x.precision.toFixed(4)}  ${x.map.toFixed(4)}  ${x.ndcg.toFixed(4)}  ${String(x.users).padStart(5)}`
  const d = e.data
  const p = e.params
  return [
    `data: ${d.file}: ${d.positives} positive ratings (≥ ${POSITIVE_RATING}) of ${d.users} users on ${d.items} items; ${d.trainPreferences} to train on, ${d.testItems} held out (the latest ${TEST_SHARE * 100}% of each user's)`,
    `ALS: rank ${p.rank}, regularisation ${p.regParam}, ${p.iterations} iterations, confidence 1 + ${p.alpha} × strength; at ${p.n}`,
    `                                 P@${p.n}     MAP@${p.n}   nDCG@${p.n}  users   train         recommend`,
    `spoor, users trained in         ${m(e.spoor.trained)}   ${e.spoor.trainSeconds.toFixed(1).padStart(6)} s      ${e.spoor.recommendMicros.toFixed(0)} µs`,
    `spoor, users folded in          ${m(e.spoor.foldIn)}   (not trained)  ${e.spoor.foldInMicros.toFixed(0)} µs`,
    ...(e.implicit !== undefined ? [`implicit ${e.implicit.version}, trained in   ${m(e.implicit.trained)}   ${e.implicit.fitSeconds.toFixed(1).padStart(6)} s      ${e.implicit.recommendMicros.toFixed(0)} µs`] : []),
    `folded-in users reach ${(e.spoor.foldIn.precision / e.spoor.trained.precision * 100).toFixed(0)}% of the trained-in users' P@${p.n}` +
      (e.implicit !== undefined ? `; spoor's P@${p.n} is ${(e.spoor.trained.precision / e.implicit.trained.precision).toFixed(3)}× implicit's, nDCG@${p.n} ${(e.spoor.trained.ndcg / e.implicit.trained.ndcg).toFixed(3)}×` : ''),
    'train: spoor\'s is the whole `spoor recommend train` run (a JVM, Spark local, the job); implicit\'s is its fit() alone, on every core'
  ].join('\n')
}
