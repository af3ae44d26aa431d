// The demo page in a real Chromium: it fires the pixel and a POST batch, and shows them read back from HBase.

import { chromium } from 'playwright-core'
import t from 'tap'
import { startDaemon } from './fixtures/daemon'
import { freshTables } from './fixtures/hbase'

const CHROMIUM = process.env.SPOOR_CHROMIUM ?? '/usr/bin/chromium'

t.test('the demo page shows its own events from HBase', async t => {
  const hbase = await freshTables('demo')
  const daemon = await startDaemon({ hbase, server: { demo: true } })
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  t.teardown(async () => {
    await browser.close()
    await daemon.stop()
  })
  const page = await browser.newPage()
  await page.goto(daemon.url)
  await page.locator('#status', { hasText: 'events for this browser in HBase' }).waitFor({ timeout: 60000 })
  const rows = await Promise.all((await page.locator('#rows tr').all()).map(async tr => await tr.locator('td').allTextContents()))
  t.equal(rows.length, 3)
  t.same(rows.map(r => r[1]).sort(), ['like', 'page', 'view'])
  const cookies = await page.context().cookies()
  const uid = cookies.find(c => c.name === 'sp_uid')?.value
  t.match(uid, /^[0-9a-f]{32}$/)
  t.ok(rows.every(r => r[6] === uid), 'every event carries the cookie the collector set')
})
