// Builds the sync page: tracker/src/sync.ts bundled to dist/tracker/sync.js and inlined into dist/tracker/sync.html.

import { build } from 'esbuild'
import { mkdirSync, writeFileSync } from 'node:fs'

const out = 'dist/tracker'
const result = await build({
  entryPoints: ['tracker/src/sync.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2017',
  define: { SPOOR_ORIGINS: '"__SPOOR_ORIGINS__"' },
  write: false
})
const js = result.outputFiles[0].text.trim()
// An inline script ends at the first "</script", wherever it stands.
if (/<\/script/i.test(js)) throw new Error('sync.js contains "</script" and cannot be inlined')
mkdirSync(out, { recursive: true })
writeFileSync(`${out}/sync.js`, js + '\n')
writeFileSync(`${out}/sync.html`, `<!doctype html><meta charset="utf-8"><title>spoor sync</title><script>${js}</script>\n`)
