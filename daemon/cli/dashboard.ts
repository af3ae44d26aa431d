// `spoor dashboard`: runs the dashboard until a stop signal; `spoor dashboard hash-password NAME` makes a dashboard.users entry.

import { SpoorError } from '../errors'
import { createLogger } from '../log'
import { hashPassword } from '../dashboard/password'
import { startDashboard } from '../dashboard/server'
import type { Context } from './shared'

async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** `spoor dashboard [hash-password NAME]`. */
export async function dashboardCommand ({ config, sub, arg: name }: Context): Promise<void> {
  if (sub === 'hash-password') {
    if (name === undefined || !/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new SpoorError('USAGE', 'dashboard hash-password needs a user NAME of letters, digits and ._@- (at most 64), and the password on standard input')
    // The password's own line, without its line ending; other whitespace is the password's.
    const password = (await readStdin()).replace(/\r?\n$/, '')
    if (password.length < 8) throw new SpoorError('USAGE', 'the password on standard input must be at least 8 characters')
    console.log(`${name}:${await hashPassword(password)}`)
    return
  }
  if (sub !== undefined) throw new SpoorError('USAGE', `unknown dashboard command "${sub}"; see spoor --help`)
  const log = createLogger(config.log.level)
  const dashboard = await startDashboard(config, log)
  console.error(`spoor: the dashboard is on ${dashboard.url}`)
  await new Promise<void>(resolve => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  await dashboard.close()
}
