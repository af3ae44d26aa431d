// Renders docs/configuration.md from the config key definitions; `npm run docs:config` writes it, a test checks it.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { keyDefs, type KeyDef } from './config'

function kindText (def: KeyDef): string {
  const k = def.kind
  switch (k.type) {
    case 'int': return `integer, ${k.min} to ${k.max}`
    case 'number': return `number, ${k.min} to ${k.max}`
    case 'bool': return 'boolean'
    case 'string': return k.pattern != null ? `string matching \`${String(k.pattern)}\`` : 'string'
    case 'enum': return k.values.map(v => `"${v}"`).join(' \\| ')
    case 'strings': return 'array of strings'
    case 'weights': return `table of kind = number, above ${k.min} to ${k.max}`
  }
}

export function renderConfigDoc (): string {
  let out = `# Configuration

spoor reads one TOML file, given by \`--config FILE\` or the \`SPOOR_CONFIG\` environment variable;
without one it runs on the defaults below. \`spoor config check FILE\` checks a file without starting anything.

Every problem stops start-up with \`SPOOR_E_CONFIG_INVALID\` and names the file, the line and the key:
an unknown key, a value of the wrong type or out of range, or two settings that conflict.

<!-- Generated from daemon/config.ts by \`npm run docs:config\`; a test fails when this page and the definitions differ. -->
`
  let section = ''
  for (const def of keyDefs) {
    const name = def.key.includes('.') ? def.key.split('.')[0] : ''
    if (name !== section || out.endsWith('-->\n')) {
      section = name
      out += `\n## ${name === '' ? 'Top level' : `[${name}]`}\n\n| key | type | default | unit | reload | meaning |\n| --- | --- | --- | --- | --- | --- |\n`
    }
    const key = def.key.split('.').pop() as string
    out += `| \`${key}\` | ${kindText(def)} | \`${JSON.stringify(def.default)}\` | ${def.unit ?? ''} | ${def.reload === true ? 'yes' : ''} | ${def.doc} |\n`
  }
  return out
}

if (require.main === module) {
  writeFileSync(join(__dirname, '..', '..', 'docs', 'configuration.md'), renderConfigDoc())
}
