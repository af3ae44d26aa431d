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

t.test('docs/configuration.md is generated from the key definitions', async t => {
  t.equal(readFileSync(join(docs, 'configuration.md'), 'utf8'), renderConfigDoc(), 'run `npm run docs:config` after changing daemon/config.ts')
})
