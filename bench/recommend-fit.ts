// Fit time of spoor's training (Spark, local) against the implicit library's as the data grows: synthetic ratings of
// growing size, each evaluated by `spoor recommend eval`'s code with the same parameters.
//
// Usage: node dist/bench/recommend-fit.js --python PY [--sizes 100000,1000000,4000000] [--out DIR]
//   PY: a Python with implicit (test/fixtures/movielens.ts installs one in .spoor/eval/py-implicit). Each size has
//   users = size / 50 and items = size / 200, every user's ratings drawn from one of 20 taste groups, all of them
//   positive. Prints a Markdown table and writes it, with the JSON, to DIR (default bench/results/) as
//   <date>-<host>-recommend-fit.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../daemon/config'
import { evaluate, type EvalResult } from '../daemon/recommend/eval'
import { generator } from '../daemon/reports/demo-data'
import { ROOT } from './load'

const GROUPS = 20

/** `size` ratings of 5 as `user item rating timestamp` lines: each user mostly within their taste group's items. */
function ratings (size: number): string {
  const rand = generator(size)
  const users = Math.max(50, Math.floor(size / 50))
  const items = Math.max(100, Math.floor(size / 200))
  const perGroup = Math.floor(items / GROUPS)
  const lines: string[] = []
  for (let k = 0; k < size; k++) {
    const user = k % users
    const group = user % GROUPS
    const item = rand() < 0.8 ? group * perGroup + Math.floor(rand() * perGroup) : Math.floor(rand() * items)
    lines.push(`${user}\t${item}\t5\t${1000000 + k}`)
  }
  return lines.join('\n') + '\n'
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { python: { type: 'string' }, sizes: { type: 'string', default: '100000,1000000,4000000' }, out: { type: 'string', default: join(ROOT, 'bench', 'results') } } })
  if (values.python === undefined) throw new Error('--python PY: a Python with the implicit library')
  const work = mkdtempSync(join(tmpdir(), 'spoor-bench-fit-'))
  const configPath = join(work, 'spoor.toml')
  writeFileSync(configPath, `data_dir = ${JSON.stringify(work)}\n[reports]\nheap_mb = 4096\n`)
  const config = loadConfig(configPath)
  const rows: Array<{ size: number, result: EvalResult }> = []
  try {
    for (const size of values.sizes!.split(',').map(Number)) {
      const data = join(work, `ratings-${size}.tsv`)
      writeFileSync(data, ratings(size))
      const result = await evaluate(config, { data, master: config.reports.master, python: values.python })
      rows.push({ size, result })
      console.error(`${size}: spoor ${result.spoor.trainSeconds.toFixed(1)} s, implicit ${result.implicit!.fitSeconds.toFixed(2)} s`)
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  const date = new Date().toISOString().slice(0, 10)
  const md = [
    `# Fit time, spoor (Spark ${config.reports.master}) against implicit, ${date}`,
    '',
    `\`node dist/bench/recommend-fit.js --python PY --sizes ${values.sizes!}\`: synthetic ratings (users = size / 50, items = size / 200, ${GROUPS} taste groups), the time split and parameters of \`spoor recommend eval\` (rank ${config.recommend.rank}, ${config.recommend.iterations} iterations). spoor's time is the whole \`recommend train\` run (JVM, Spark, job); implicit's is its \`fit()\` on every core.`,
    '',
    '| ratings | trained on | spoor | implicit | ratio | spoor P@10 | implicit P@10 |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(({ size, result: r }) => `| ${size.toLocaleString('en')} | ${r.data.trainPreferences.toLocaleString('en')} | ${r.spoor.trainSeconds.toFixed(1)} s | ${r.implicit!.fitSeconds.toFixed(2)} s | ${(r.spoor.trainSeconds / r.implicit!.fitSeconds).toFixed(0)}× | ${r.spoor.trained.precision.toFixed(4)} | ${r.implicit!.trained.precision.toFixed(4)} |`),
    ''
  ].join('\n')
  console.log(md)
  mkdirSync(values.out!, { recursive: true })
  writeFileSync(join(values.out!, `${date}-vm-recommend-fit.md`), md)
  writeFileSync(join(values.out!, `${date}-vm-recommend-fit.json`), JSON.stringify(rows.map(({ size, result }) => ({ size, ...result })), null, 2) + '\n')
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
