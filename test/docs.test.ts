// The docs stay true to the code: error codes, the configuration page, the README's test command, the /healthz example and the architecture page.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { renderConfigDoc } from '../daemon/config-doc'
import { defaults } from '../daemon/config'
import { errors } from '../daemon/errors'
import { healthBody } from '../daemon/http/server'
import { ROUTE, SharedState } from '../daemon/pipeline/shared-state'

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
