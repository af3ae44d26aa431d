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
    // The sites' certificate is self-signed. Firefox still caches over such a connection: the ETag cells show it.
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
  /** Each profile's preferences, read when its browser has quit and written them. */
  const prefs: string[] = []
  const version = spawnSync(FIREFOX, ['--version'], { encoding: 'utf8' }).stdout.trim()
  t.comment(`measured in ${version}`)
  const firefox: Engine = {
    column: `Firefox ESR ${/(\d+)\./.exec(version)?.[1] ?? version}`,
    start: async profile => {
      const browser = await launch(profile)
      return {
        newTab: async () => pageTab(await browser.newPage()),
        close: async () => {
          await browser.close()
          prefs.push(['user.js', 'prefs.js'].map(f => readFileSync(join(profile, f), 'utf8')).join('\n'))
        }
      }
    }
  }
  await engineAsDocumented(t, stage, firefox, 'firefox')
  // puppeteer writes preferences of its own into the profile: of Enhanced Tracking Protection's, only
  // privacy.trackingprotection.enabled false, Standard's value for a normal window, and
  // browser.contentblocking.features.standard, which Firefox 153 no longer reads. So the profile keeps Firefox's
  // default cookie policy, Total Cookie Protection (network.cookie.cookieBehavior 5), which a profile that has never
  // changed it does not record.
  t.equal(prefs.length, 4, 'two journeys, each with a restart')
  for (const p of prefs) {
    t.notMatch(p, /"network\.cookie\.cookieBehavior"/, 'the profile keeps Firefox\'s default cookie policy')
    t.notMatch(p, /"privacy\.trackingprotection\.(enabled|pbmode\.enabled)", true|"privacy\.trackingprotection\.pbmode\.enabled", false/, 'and its default tracking protection')
  }
})
