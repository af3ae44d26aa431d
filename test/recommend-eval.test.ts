// The evaluation against the implicit library on MovieLens 100K (from the recbole wheel at run time): spoor's ALS,
// trained on the real Spark and served by the addon, is at least as precise as implicit's on the same time split with
// the same parameters, and users held out of training and folded in reach 90% of the trained-in users' precision.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { EvalResult } from '../daemon/recommend/eval'
import { tempDir, toml } from './fixtures/daemon'
import { implicitPython, movieLens100k } from './fixtures/movielens'
import { REPORTS, spoor } from './fixtures/reports'

t.test('spoor recommend eval on MovieLens 100K, beside implicit', async t => {
  const [data, python] = [await movieLens100k(), await implicitPython()]
  const dir = tempDir('eval')
  const configPath = join(dir, 'spoor.toml')
  writeFileSync(configPath, toml({ reports: REPORTS }, { data_dir: dir }))
  const run = await spoor(['recommend', 'eval', '--data', data, '--python', python, '--config', configPath, '--json'])
  t.equal(run.code, 0, run.stderr)
  const e = JSON.parse(run.stdout) as EvalResult
  t.comment(JSON.stringify({ spoor: e.spoor, implicit: e.implicit }))
  t.match(e.data, { positives: 55375, users: 942, items: 1447, trainPreferences: 40256, testItems: 10696 }, 'the ratings of 4 and 5, split by time')
  t.equal(e.data.trainedUsers + e.data.foldInUsers, 938, 'every user with something held out is evaluated, trained in or folded in')
  t.ok(e.data.foldInUsers > 50, 'about a tenth of them folded in')
  t.match(e.params, { rank: 10, regParam: 0.1, iterations: 10, alpha: 1, n: 10 })
  t.ok(e.implicit !== undefined && e.implicit.version === '0.7.3', 'implicit ran')
  t.ok(e.spoor.trained.precision >= e.implicit!.trained.precision, `spoor's P@10 ${e.spoor.trained.precision.toFixed(4)} is at least implicit's ${e.implicit!.trained.precision.toFixed(4)}`)
  t.ok(e.spoor.trained.ndcg >= e.implicit!.trained.ndcg, `spoor's nDCG@10 ${e.spoor.trained.ndcg.toFixed(4)} is at least implicit's ${e.implicit!.trained.ndcg.toFixed(4)}`)
  t.ok(e.spoor.foldIn.precision >= 0.9 * e.spoor.trained.precision, `folded-in users' P@10 ${e.spoor.foldIn.precision.toFixed(4)} is at least 90% of the trained-in users' ${e.spoor.trained.precision.toFixed(4)}`)

  const text = await spoor(['recommend', 'eval', '--data', join(dir, 'nothing.tsv'), '--config', configPath])
  t.equal(text.code, 1)
  t.match(text.stderr, /^spoor: SPOOR_E_USAGE: [^\n]*recommend eval --data \S+nothing\.tsv: no such file\n$/, 'a missing file is one line')
})
