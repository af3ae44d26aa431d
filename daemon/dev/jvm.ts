// What spoor's local Java processes (HBase, its Thrift2 gateway, the HBase shell) share: JDK 17 flags,
// hbase-site.xml, and a Maven classpath resolved once per pom.

import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'

/** HBase's bin/hbase adds these on JDK 17: its netty and Hadoop code reach into JDK internals. */
export const JDK17_FLAGS = [
  '-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true',
  '--add-modules', 'jdk.unsupported',
  '--add-opens', 'java.base/java.io=ALL-UNNAMED',
  '--add-opens', 'java.base/java.nio=ALL-UNNAMED',
  '--add-opens', 'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang=ALL-UNNAMED',
  '--add-opens', 'java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens', 'java.base/java.util=ALL-UNNAMED',
  '--add-opens', 'java.base/java.util.concurrent=ALL-UNNAMED',
  '--add-exports', 'java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports', 'java.security.jgss/sun.security.krb5=ALL-UNNAMED',
  '--add-exports', 'java.base/sun.net.dns=ALL-UNNAMED',
  '--add-exports', 'java.base/sun.net.util=ALL-UNNAMED'
]

function xmlEscape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** An hbase-site.xml; `writer` names the module that writes it at every start, so edits are known to be lost. */
export function siteXml (writer: string, properties: Record<string, string | number | boolean>): string {
  const body = Object.entries(properties)
    .map(([name, value]) => `  <property><name>${xmlEscape(name)}</name><value>${xmlEscape(String(value))}</value></property>`)
    .join('\n')
  return `<?xml version="1.0"?>\n<!-- Written by spoor's ${writer} at every start; edits are lost. -->\n<configuration>\n${body}\n</configuration>\n`
}

/** Runs a command; on failure the error carries the last `tailLines` lines of its output. */
export async function run (command: string, args: string[], tailLines = 25): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err == null) resolve()
      else reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${`${stdout}\n${stderr}`.trim().split('\n').slice(-tailLines).join('\n')}`))
    })
  })
}

/**
 * The classpath of a pom's dependencies. Maven resolves it once per content of the pom; the answer is kept
 * in `cacheDir` and used while every jar it names is still in the local Maven repository.
 */
export async function mavenClasspath (pom: string, cacheDir: string): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(pom)).digest('hex').slice(0, 16)
  const file = join(cacheDir, `classpath-${hash}.txt`)
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim()
    if (kept !== '' && kept.split(':').every(jar => existsSync(jar))) return kept
  }
  // Unique per process, so that two processes resolving at once do not write one file.
  const partial = `${file}.${process.pid}.partial`
  try {
    await run('mvn', ['-q', '-B', '-f', pom, 'dependency:build-classpath', `-Dmdep.outputFile=${partial}`])
    for (const old of readdirSync(cacheDir)) if (/^classpath-[0-9a-f]+\.txt$/.test(old) && join(cacheDir, old) !== file) rmSync(join(cacheDir, old), { force: true })
    renameSync(partial, file)
  } finally {
    rmSync(partial, { force: true })
  }
  return readFileSync(file, 'utf8').trim()
}
