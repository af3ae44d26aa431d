// Identity in Debian's WebKitGTK (its MiniBrowser under WebKitWebDriver, on a virtual display), with its defaults and with ITP on: the engine matrix of docs/identity.md.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { Builder, By, type WebDriver } from 'selenium-webdriver'
import t from 'tap'
import { freePort } from './fixtures/daemon'
import { HOSTS, engineAsDocumented, startStage, type Engine, type Stage } from './fixtures/identity'
import { accepting } from './fixtures/sites'

/** The browser WebKitWebDriver drives: Debian's webkit2gtk-driver depends on the package that ships it. */
const MINIBROWSER = process.env.SPOOR_MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser'

let stage: Stage
let xvfb: ChildProcess
let driver: ChildProcess
let display: string
let driverUrl: string

/** Starts Xvfb on a free display; it writes the display's number to the descriptor -displayfd names once it is ready. */
async function startXvfb (): Promise<void> {
  xvfb = spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] })
  let number = ''
  for await (const chunk of xvfb.stdio[3] as Readable) {
    number += String(chunk)
    if (number.includes('\n')) break
  }
  if (!/^\d+\n/.test(number)) throw new Error(`Xvfb gave no display number (exit ${xvfb.exitCode})`)
  display = `:${number.trim()}`
}

t.before(async () => {
  stage = await startStage('webkit')
  await startXvfb()
  const port = await freePort()
  driver = spawn('WebKitWebDriver', [`--port=${port}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DISPLAY: display } })
  await accepting(port, driver)
  driverUrl = `http://127.0.0.1:${port}`
})

t.teardown(async () => {
  for (const child of [driver, xvfb]) {
    if (child === undefined || child.exitCode !== null) continue
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }
  await stage?.stop()
})

/**
 * WebKitGTK with `args` added to MiniBrowser's. It reaches the sites through the fixture's proxy, set with
 * MiniBrowser's --proxy (it has no way to map names to 127.0.0.1; given as the W3C proxy capability's sslProxy,
 * the proxy is spoken to in TLS, which it does not speak), and trusts their certificate for each name, as it would
 * a real one. MiniBrowser keeps a
 * WebDriver session's data in memory only, whatever the profile: a restart starts it empty.
 */
function webkit (column: string, args: string[]): Engine {
  const certificates = ['collector.test', ...HOSTS].map(host => ({ host, certificateFile: stage.sites.certificate }))
  return {
    column,
    start: async () => {
      const session: WebDriver = await new Builder().usingServer(driverUrl).withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation', `--proxy=http://${stage.sites.proxy}`, ...args], certificates }
      }).build()
      let first = true
      return {
        newTab: async () => {
          if (!first) await session.switchTo().newWindow('tab')
          first = false
          const handle = await session.getWindowHandle()
          const here = async (): Promise<WebDriver> => {
            await session.switchTo().window(handle)
            return session
          }
          return {
            goto: async url => { await (await here()).get(url) },
            reload: async () => { await (await here()).navigate().refresh() },
            click: async id => { await (await here()).findElement(By.id(id)).click() }
          }
        },
        close: async () => { await session.quit() }
      }
    }
  }
}

t.test('WebKitGTK links each method as docs/identity.md\'s engine table says, with its defaults and with ITP on', async t => {
  const version = spawnSync(MINIBROWSER, ['--version'], { encoding: 'utf8', env: { ...process.env, DISPLAY: display } }).stdout.trim()
  t.comment(`measured in ${version}`)
  const column = version.replace(/^(WebKitGTK \d+\.\d+)\..*$/, '$1')
  for (const engine of [webkit(column, []), webkit(`${column}, ITP on`, ['--enable-itp'])]) {
    await engineAsDocumented(t, stage, engine, engine.column.endsWith('ITP on') ? 'webkit-itp' : 'webkit')
  }
})
