// The docs stay true to the code: every error code is documented, and the configuration page matches the key definitions.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { renderConfigDoc } from '../daemon/config-doc'
import { errors } from '../daemon/errors'

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
