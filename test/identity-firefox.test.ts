// Identity in Debian's Firefox ESR with its default Enhanced Tracking Protection, driven over WebDriver BiDi: the engine matrix of docs/identity.md.

import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import puppeteer, { type Browser } from 'puppeteer-core'
import t from 'tap'
import { HOSTS, engineAsDocumented, pageTab, startStage, type Engine, type Stage } from './fixtures/identity'

const FIREFOX = process.env.SPOOR_FIREFOX ?? '/usr/bin/firefox-esr'

let stage: Stage

t.before(async () => {
  stage = await startStage('firefox')
})

t.teardown(async () => {
  await stage?.stop()
})

async function launch (profile: string): Promise<Browser> {
  return await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    userDataDir: profile,
    headless: true,
    // Firefox trusts no certificate it is not told to; an accepted certificate is cached and stored as a valid one's.
    acceptInsecureCerts: true,
    extraPrefsFirefox: {
      // Every *.test name is 127.0.0.1.
      'network.dns.localDomains': ['collector.test', ...HOSTS].join(','),
      // The remote agent would otherwise set its recommended preferences, tracking protection in private windows off among them.
      'remote.prefs.recommended': false
    }
  })
}

t.test('Firefox ESR links each method as docs/identity.md\'s engine table says', async t => {
  const profiles: string[] = []
  const version = spawnSync(FIREFOX, ['--version'], { encoding: 'utf8' }).stdout.trim()
  t.comment(`measured in ${version}`)
  const firefox: Engine = {
    column: `Firefox ESR ${/(\d+)\./.exec(version)?.[1] ?? version}`,
    start: async profile => {
      profiles.push(profile)
      const browser = await launch(profile)
      return {
        newTab: async () => pageTab(await browser.newPage()),
        close: async () => await browser.close()
      }
    }
  }
  await engineAsDocumented(t, stage, firefox, 'firefox')
  // puppeteer writes preferences of its own into the profile. Those of Enhanced Tracking Protection it writes are
  // Standard's defaults for a normal window (tracking protection off outside private windows), so the profile keeps
  // Firefox's default cookie policy, Total Cookie Protection (network.cookie.cookieBehavior 5), which a profile that
  // has never changed it does not record.
  for (const profile of profiles) {
    const prefs = ['user.js', 'prefs.js'].map(f => readFileSync(join(profile, f), 'utf8')).join('\n')
    t.notMatch(prefs, /"network\.cookie\.cookieBehavior"/, 'the profile keeps Firefox\'s default cookie policy')
    t.notMatch(prefs, /"privacy\.trackingprotection\.(enabled|pbmode\.enabled)", true|"privacy\.trackingprotection\.pbmode\.enabled", false/, 'and its default tracking protection')
  }
})
