// One definition of spoor's HBase families and qualifiers (native/src/schema.rs): the TypeScript side reads it from the
// native module, and the Java jobs, which cannot load the module, spell it the same; so do the docs.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { FAMILY, LINK_FAMILY, QUALIFIERS, REPORT_FAMILY, SIGNAL_FAMILY } from '../daemon/hbase/schema'
import { SIGNAL_QUALIFIERS } from '../daemon/hbase/signals'

const root = join(__dirname, '..', '..')
const jobs = join(root, 'jobs', 'src', 'main', 'java', 'dev', 'spoor', 'jobs')
const java = (file: string): string => readFileSync(join(jobs, file), 'utf8')

/** The value of `static final byte[] NAME = Bytes.toBytes("…");` in a Java source. */
function bytesConstant (source: string, name: string): string | undefined {
  return new RegExp(`static final byte\\[\\] ${name} = Bytes\\.toBytes\\("([^"]*)"\\);`).exec(source)?.[1]
}

t.test('the native module gives the families and the qualifiers the flush writes with', async t => {
  t.same([FAMILY, LINK_FAMILY, REPORT_FAMILY], ['e', 'l', 'r'])
  t.equal(QUALIFIERS.length, 26)
  t.same(QUALIFIERS.slice(0, 3), ['id', 'uid', 'sid'], 'the row\'s own ids come first')
  t.equal(new Set(QUALIFIERS).size, QUALIFIERS.length, 'no qualifier twice')
  t.ok(Object.isFrozen(QUALIFIERS))
})

t.test('the Java jobs spell the families as native/src/schema.rs does', async t => {
  t.equal(bytesConstant(java('SpoorRows.java'), 'FAMILY'), FAMILY, 'SpoorRows.FAMILY')
  t.equal(bytesConstant(java('SpoorRows.java'), 'LINK_FAMILY'), LINK_FAMILY, 'SpoorRows.LINK_FAMILY')
  t.equal(bytesConstant(java('ReportsTable.java'), 'FAMILY'), REPORT_FAMILY, 'ReportsTable.FAMILY')
  t.equal(bytesConstant(java('Train.java'), 'SIGNAL_FAMILY'), SIGNAL_FAMILY, 'Train.SIGNAL_FAMILY')
  // No other file spells a family: a new one would have to be added here.
  for (const file of readdirSync(jobs).filter(f => f.endsWith('.java'))) {
    const spelled = [...java(file).matchAll(/static final byte\[\] (\w*FAMILY) =/g)].map(m => `${file}:${m[1]}`)
    t.ok(spelled.every(s => ['SpoorRows.java:FAMILY', 'SpoorRows.java:LINK_FAMILY', 'ReportsTable.java:FAMILY', 'Train.java:SIGNAL_FAMILY'].includes(s)), `${file}: ${spelled.join(', ') || 'none'}`)
  }
  // The training job reads a signal's cells by the qualifiers the consumer writes.
  t.same(['USER', 'ITEM', 'KIND'].map(name => bytesConstant(java('Train.java'), name)), [SIGNAL_QUALIFIERS.user, SIGNAL_QUALIFIERS.item, SIGNAL_QUALIFIERS.kind], 'Train.USER, ITEM, KIND')
})

t.test('every column a job reads is a qualifier the collector writes', async t => {
  let lists = 0
  for (const file of readdirSync(jobs).filter(f => f.endsWith('.java'))) {
    for (const m of java(file).matchAll(/static final List<String> COLUMNS = List\.of\(([^)]*)\);/g)) {
      lists++
      const columns = [...m[1].matchAll(/"([^"]*)"/g)].map(c => c[1])
      t.ok(columns.length > 0, `${file} reads columns`)
      for (const column of columns) t.ok(QUALIFIERS.includes(column), `${file}: ${column}`)
    }
  }
  t.ok(lists >= 3, `${lists} jobs name their columns`)
})

t.test('docs/hbase-schema.md documents every qualifier and no other', async t => {
  const page = readFileSync(join(root, 'docs', 'hbase-schema.md'), 'utf8')
  const table = /\| qualifier \| meaning \|\n\| --- \| --- \|\n((?:\|.*\n)+)/.exec(page)?.[1] ?? ''
  const documented = [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap(m => [...m[1].matchAll(/`([^`]+)`/g)].map(q => q[1]))
  t.same(documented, QUALIFIERS, 'in qualifier-id order')
})
