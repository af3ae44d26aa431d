// Identity in Debian's WebKitGTK (a browser on a profile on disk, under WebKitWebDriver, on a virtual display), with its defaults and with ITP on: the engine matrix of docs/identity.md.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { Builder, By, type WebDriver } from 'selenium-webdriver'
import t from 'tap'
import { freePort } from './fixtures/daemon'
import { HOSTS, engineAsDocumented, startStage, type Engine, type Stage } from './fixtures/identity'
import { accepting } from './fixtures/sites'

/** The browser WebKitWebDriver drives: WebKitGTK with a profile on disk (MiniBrowser keeps a session in memory). */
const BROWSER = join(__dirname, '..', '..', 'test', 'fixtures', 'webkit-browser.py')

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
 * WebKitGTK with `args` added to the browser's. It reaches the sites through the fixture's proxy, given as the
 * browser's --proxy (WebKitGTK has no way to map names to 127.0.0.1; given as the W3C proxy capability's sslProxy
 * instead, every page failed its TLS handshake), and trusts their certificate for each name, as it would a real one.
 */
function webkit (column: string, args: string[]): Engine {
  const certificates = ['collector.test', ...HOSTS].map(host => ({ host, certificateFile: stage.sites.certificate }))
  return {
    column,
    start: async profile => {
      const session: WebDriver = await new Builder().usingServer(driverUrl).withCapabilities({
        browserName: 'spoor-webkit',
        'webkitgtk:browserOptions': { binary: BROWSER, args: ['--automation', `--profile=${profile}`, `--proxy=http://${stage.sites.proxy}`, ...args], certificates }
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
  const version = spawnSync('/usr/bin/python3', ['-c', "import gi; gi.require_version('WebKit2', '4.1'); from gi.repository import WebKit2 as w; print('%d.%d.%d' % (w.get_major_version(), w.get_minor_version(), w.get_micro_version()))"], { encoding: 'utf8' }).stdout.trim()
  t.comment(`measured in WebKitGTK ${version}`)
  const column = `WebKitGTK ${version.split('.').slice(0, 2).join('.')}`
  for (const engine of [webkit(column, []), webkit(`${column}, ITP on`, ['--enable-itp'])]) {
    await engineAsDocumented(t, stage, engine, engine.column.endsWith('ITP on') ? 'webkit-itp' : 'webkit')
  }
})
