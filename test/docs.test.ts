// The docs stay true to the code: error codes, the configuration page, the README's test command and benchmark figures, the /healthz example and the architecture page.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { currentFigures, figures, targetFigures, withFigures } from '../bench/readme-figures'
import { renderConfigDoc } from '../daemon/config-doc'
import { defaults } from '../daemon/config'
import { errors } from '../daemon/errors'
import { healthBody } from '../daemon/http/server'
import { ROUTE, SharedState } from '../daemon/pipeline/shared-state'
import { tempDir } from './fixtures/daemon'

const docs = join(__dirname, '..', '..', 'docs')
const allDocs = readdirSync(docs).filter(f => f.endsWith('.md')).map(f => readFileSync(join(docs, f), 'utf8')).join('\n')

t.test('every error code appears in docs/', async t => {
  for (const def of Object.values(errors)) t.ok(allDocs.includes(def.code), def.code)
})

t.test('the README lists every Debian package of debian-packages.txt, which .ci/run installs', async t => {
  const root = join(__dirname, '..', '..')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const packages = readFileSync(join(root, 'debian-packages.txt'), 'utf8').split('\n').filter(l => l.trim() !== '' && !l.startsWith('#')).map(l => l.split(/\s+/)[0])
  t.ok(packages.includes('haproxy'))
  for (const p of packages) t.ok(readme.includes(`| \`${p}\` |`), p)
  t.match(readFileSync(join(root, '.ci', 'run'), 'utf8'), /done < debian-packages\.txt/)
})

t.test('docs/configuration.md is generated from the key definitions', async t => {
  t.equal(readFileSync(join(docs, 'configuration.md'), 'utf8'), renderConfigDoc(), 'run `npm run docs:config` after changing daemon/config.ts')
})

t.test('.ci/run runs the README\'s test command, which installs from the lockfile with npm ci', async t => {
  const root = join(__dirname, '..', '..')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const command = /## Test\n\n```\n(.+)\n```/.exec(readme)?.[1]
  t.equal(command, 'npm ci && npm test')
  const run = readFileSync(join(root, '.ci', 'run'), 'utf8')
  t.match(run, /^if ! npm ci; then$/m)
  t.match(run, /^npm test 2>&1/m)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
  t.same(lock.packages[''].dependencies, pkg.dependencies, 'package-lock.json records package.json\'s dependencies')
  t.same(lock.packages[''].devDependencies, pkg.devDependencies, 'package-lock.json records package.json\'s devDependencies')
})

/** A JSON value's shape: its keys in order, and each value's type, arrays by their first element. */
function shape (value: unknown): unknown {
  if (Array.isArray(value)) return [value.length === 0 ? 'empty' : shape(value[0])]
  if (value !== null && typeof value === 'object') return Object.entries(value).map(([k, v]) => [k, shape(v)])
  return typeof value
}

t.test('the README\'s benchmark figures are what `npm run docs:figures` writes from the newest bench/results/', async t => {
  const root = join(__dirname, '..', '..')
  const written = figures(join(root, 'bench', 'results'))
  t.match(written, /\| spoor, full pipeline \| [\d.]+k \| [\d.]+ ms \| [\d.]+ µs \|/, 'the block has the full pipeline\'s row')
  t.equal(currentFigures(readFileSync(join(root, 'README.md'), 'utf8')), written, 'run `npm run docs:figures` after a bench run')
})

t.test('docs/benchmarks.md\'s targets are what `npm run docs:figures` writes from the newest bench/results/', async t => {
  const root = join(__dirname, '..', '..')
  const written = targetFigures(join(root, 'bench', 'results'))
  t.match(written, /\| spoor full pipeline: server CPU per pixel ≤ 1\.15× nginx `empty_gif`'s, one core each \(wrk\) \| [\d.]+× .*\| (met|\*\*missed\*\*) \|/, 'the CPU target with its ratio')
  t.equal(currentFigures(readFileSync(join(docs, 'benchmarks.md'), 'utf8'), 'docs/benchmarks.md'), written, 'run `npm run docs:figures` after a bench run')
})

t.test('the figures come from the newest run with each section: a later `--sections pixel` run gives the table only', async t => {
  const root = join(__dirname, '..', '..')
  const dir = tempDir('readme-figures')
  const full = JSON.parse(readFileSync(join(root, 'bench', 'results', '2026-11-26-vm.json'), 'utf8'))
  writeFileSync(join(dir, 'full.json'), JSON.stringify(full))
  writeFileSync(join(dir, 'reports.json'), JSON.stringify({ started: '2099-01-01T00:00:00.000Z', results: [] }))
  const pixelOnly = { ...full, date: '2026-12-01', flush: undefined, lag: undefined, runs: full.runs.map((r: { startedAt: string }) => ({ ...r, startedAt: `2026-12-01${r.startedAt.slice(10)}` })) }
  pixelOnly.summary = { ...full.summary, contenders: full.summary.contenders.map((c: { contender: string, serverCpuUsPerRequest: { median: number } }) => c.contender === 'spoor' ? { ...c, serverCpuUsPerRequest: { ...c.serverCpuUsPerRequest, median: 9.04 } } : c) }
  writeFileSync(join(dir, 'pixel.json'), JSON.stringify(pixelOnly))
  const written = figures(dir)
  t.match(written, /^From the latest run \(2026-12-01, .*\n\[the whole summary\]\(bench\/results\/pixel\.md\)/)
  t.match(written, /\| spoor, full pipeline \| 44\.9k \| 6\.5 ms \| 9\.0 µs \|/)
  t.match(written, /flush reaches 1\.13× .* after its request \(2026-11-26\)\.$/s, 'the flush and lag of the older full run')
  t.throws(() => figures(join(dir, 'none')), 'no directory')
  t.throws(() => withFigures('no markers', written), /README\.md has no figures block/)
})

t.test('docs/http-api.md\'s /healthz example has exactly the fields the code answers, in its order', async t => {
  const page = readFileSync(join(docs, 'http-api.md'), 'utf8')
  const example = /## `GET \/healthz`\n\n```\n\$ curl -s \S+\/healthz\n(.+)\n```/.exec(page)?.[1]
  t.ok(example, 'the example is there')
  // The state the example shows: a pixel, a bad pixel and a one-event POST, all acknowledged.
  const state = SharedState.create(1)
  const counters = state.thread(0)
  counters.request(ROUTE.pixel, 200)
  counters.request(ROUTE.pixel, 400)
  counters.reject(errors.BAD_ESCAPE.code)
  counters.request(ROUTE.events, 204)
  counters.accepted(2)
  for (const slot of ['batchesBuffered', 'eventsBuffered', 'eventsDelivered', 'batchesAcknowledged'] as const) state.add(slot, 2)
  state.add('bytesBuffered', 734)
  const body = healthBody(state, defaults())
  t.same(shape(JSON.parse(example ?? 'null')), shape(body))
  t.same(JSON.parse(example ?? 'null'), body, 'and its values are what the code gives for that state')
})

t.test('docs/architecture.md names only files that exist, and shows every daemon/ folder and native/src file', async t => {
  const root = join(__dirname, '..', '..')
  const page = readFileSync(join(docs, 'architecture.md'), 'utf8')
  const named = new Set(page.match(/\b(?:daemon|native|test|bench)\/[\w./-]+\.(?:ts|rs)\b/g) ?? [])
  t.ok(named.size > 20, `${named.size} files named`)
  for (const path of named) t.ok(existsSync(join(root, path)), path)
  const layout = /## Where each stage lives\n\n```\n([\s\S]*?)```/.exec(page)?.[1] ?? ''
  const folders = readdirSync(join(root, 'daemon'), { withFileTypes: true }).filter(d => d.isDirectory()).map(d => d.name)
  for (const folder of folders) t.match(layout, new RegExp(`^  ${folder}/ `, 'm'), `daemon/${folder}/`)
  const rootFiles = readdirSync(join(root, 'daemon')).filter(f => f.endsWith('.ts'))
  for (const file of rootFiles) t.match(layout, new RegExp(`^  ${file.replace('.', '\\.')} `, 'm'), `daemon/${file}`)
  for (const file of readdirSync(join(root, 'native', 'src'))) t.ok(new RegExp(`\\b${file.replace('.', '\\.')}\\b`).test(layout), `native/src/${file}`)
})
