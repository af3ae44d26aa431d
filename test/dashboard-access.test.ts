// Who may see the dashboard: a non-loopback bind needs access control, password sign-in with a signed cookie, a trusted
// proxy's user header, forged cookies refused, read-only routes, and the CSP on every answer.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { CSP } from '../daemon/dashboard/server'
import { CLI, freePort, tempDir, toml } from './fixtures/daemon'
import { CHROMIUM, CHROMIUM_ARGS, startDashboard } from './fixtures/dashboard'
import { raw, get } from './fixtures/http'
import { spoor } from './fixtures/reports'

const PASSWORD = 'correct horse battery staple'

function config (sections: Record<string, Record<string, unknown>>): string {
  const dir = tempDir('dashboard')
  const path = join(dir, 'spoor.toml')
  writeFileSync(path, toml(sections, { data_dir: dir }))
  return path
}

/** `spoor dashboard hash-password NAME` with the password on standard input. */
async function hashPassword (name: string, password: string): Promise<{ code: number, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'dashboard', 'hash-password', name], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdin.end(`${password}\n`)
  const [code] = await once(child, 'exit') as [number]
  return { code, stdout, stderr }
}

/** Every answer the test saw, to check the CSP on each at the end. */
const answers: Array<{ what: string, csp: string | null }> = []

async function fetchNoRedirect (url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', ...init })
  answers.push({ what: `${init.method ?? 'GET'} ${url} → ${res.status}`, csp: res.headers.get('content-security-policy') })
  return res
}

const login = async (base: string, user: string, password: string, next = '/', headers: Record<string, string> = {}): Promise<Response> =>
  await fetchNoRedirect(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ user, password, next }).toString() })

t.test('bound to a non-loopback address without access control, the dashboard refuses to start', async t => {
  const path = config({ dashboard: { host: '0.0.0.0', port: 0 } })
  for (const args of [['dashboard', '--config', path], ['config', 'check', path]]) {
    const r = await spoor(args)
    t.equal(r.code, 1, args[0])
    t.match(r.stderr, /^spoor: SPOOR_E_CONFIG_INVALID: the configuration is invalid: .*dashboard\.host "0\.0\.0\.0" is not a loopback address, and no access control is set: add dashboard\.users/)
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  }
  const proxyOnly = await spoor(['config', 'check', config({ dashboard: { host: '0.0.0.0', proxy_user_header: 'X-Forwarded-User' } })])
  t.match(proxyOnly.stderr, /dashboard\.proxy_user_header needs server\.trusted_proxies/)
  const badEntry = await spoor(['config', 'check', config({ dashboard: { users: ['alice:secret'] } })])
  t.match(badEntry.stderr, /dashboard\.users: the hash of user "alice" is not a scrypt hash/)
  const badName = await spoor(['config', 'check', config({ dashboard: { users: ['no name'] } })])
  t.match(badName.stderr, /dashboard\.users: "no name" is not NAME:HASH/)
  const short = await hashPassword('alice', 'short')
  t.equal(short.code, 1)
  t.match(short.stderr, /SPOOR_E_USAGE: .*at least 8 characters/)
})

t.test('password sign-in: redirect and 401 without a session, wrong passwords, a signed HttpOnly SameSite=Strict cookie, forgeries refused', async t => {
  const hashed = await hashPassword('alice', PASSWORD)
  t.equal(hashed.code, 0, hashed.stderr)
  const entry = hashed.stdout.trim()
  t.match(entry, /^alice:\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  const path = config({ dashboard: { host: '0.0.0.0', port: 0, users: [entry] } })
  t.equal((await spoor(['config', 'check', path])).code, 0, 'the entry is a valid dashboard.users value')
  const dash = await startDashboard(path)
  t.teardown(dash.stop)
  const base = dash.url

  const page = await fetchNoRedirect(`${base}/platforms?from=1`)
  t.equal(page.status, 303, 'a page without a session redirects')
  t.equal(page.headers.get('location'), '/login?next=%2Fplatforms%3Ffrom%3D1')
  const apiAnswer = await fetchNoRedirect(`${base}/api/report?name=traffic&from=1&to=2`)
  t.equal(apiAnswer.status, 401, 'the API without a session answers 401')
  t.same(await apiAnswer.json(), { error: { code: 'SPOOR_E_DASHBOARD_SIGN_IN', message: 'sign in to the dashboard first' } })
  const form = await fetchNoRedirect(`${base}/login?next=%2Fplatforms`)
  t.equal(form.status, 200)
  t.match(await form.text(), /<input type="hidden" name="next" value="\/platforms">/)

  for (const [user, password] of [['alice', 'wrong password'], ['mallory', PASSWORD], ['', '']]) {
    const res = await login(base, user, password)
    t.equal(res.status, 401, `${user}: 401`)
    t.equal(res.headers.get('set-cookie'), null, 'and no cookie')
    t.match(await res.text(), /wrong user name or password/)
  }
  const cross = await login(base, 'alice', PASSWORD, '/', { 'sec-fetch-site': 'cross-site' })
  t.equal(cross.status, 403, 'a sign-in posted from another site is refused')

  const ok = await login(base, 'alice', PASSWORD, '/live')
  t.equal(ok.status, 303)
  t.equal(ok.headers.get('location'), '/live')
  const setCookie = ok.headers.get('set-cookie') ?? ''
  t.match(setCookie, /^spoor_dashboard=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/)
  const cookie = setCookie.split(';')[0]
  const signedIn = await fetchNoRedirect(`${base}/live`, { headers: { cookie } })
  t.equal(signedIn.status, 200, 'the session opens the pages')
  t.match(await signedIn.text(), /<span class="who">alice<\/span>/)
  t.equal((await fetchNoRedirect(`${base}/api/reports?name=nope`, { headers: { cookie } })).status, 400, 'and the API (which checks its parameters before HBase)')
  const offsite = await login(base, 'alice', PASSWORD, '//evil.example/')
  t.equal(offsite.headers.get('location'), '/', 'next never leads off the site')

  const [payload, mac] = cookie.slice('spoor_dashboard='.length).split('.')
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
  const forged = (c: object): string => Buffer.from(JSON.stringify(c)).toString('base64url')
  const forgeries: Record<string, string> = {
    'another user, the same signature': `${forged({ ...claims, u: 'mallory' })}.${mac}`,
    'a later expiry, the same signature': `${forged({ ...claims, exp: claims.exp + 1e9 })}.${mac}`,
    'a changed signature': `${payload}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`,
    'no signature': payload,
    'garbage': 'x.y.z'
  }
  for (const [what, value] of Object.entries(forgeries)) {
    const res = await fetchNoRedirect(`${base}/`, { headers: { cookie: `spoor_dashboard=${value}` } })
    t.equal(res.status, 303, `${what}: refused`)
    const api = await fetchNoRedirect(`${base}/api/live`, { headers: { cookie: `spoor_dashboard=${value}` } })
    t.equal(api.status, 401, `${what}: refused by the API`)
  }
  // A cookie signed by another start of the dashboard (its key is made at start-up) is refused too.
  const other = await startDashboard(path)
  t.teardown(other.stop)
  t.equal((await fetchNoRedirect(`${other.url}/`, { headers: { cookie } })).status, 303, 'a session of another start is refused')

  const out = await fetchNoRedirect(`${base}/logout`, { method: 'POST', headers: { cookie } })
  t.equal(out.status, 303)
  t.match(out.headers.get('set-cookie') ?? '', /^spoor_dashboard=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/)

  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    const res = await fetchNoRedirect(`${base}/`, { method, headers: { cookie } })
    t.equal(res.status, 405, `${method}: the dashboard is read-only`)
  }
  t.equal((await fetchNoRedirect(`${base}/api/report`, { method: 'POST', headers: { cookie } })).status, 405, 'no POST but sign-in, sign-out and a run')
  const run = await fetchNoRedirect(`${base}/api/run?name=traffic&from=0&to=1`, { method: 'POST', headers: { 'x-spoor-request': 'run' } })
  t.equal(run.status, 401, 'a run needs a session')
  t.equal(((await run.json()) as { error: { code: string } }).error.code, 'SPOOR_E_DASHBOARD_SIGN_IN')
  t.equal((await fetchNoRedirect(`${base}/nowhere`, { headers: { cookie } })).status, 404)
  t.equal((await fetchNoRedirect(`${base}/assets/app.js`)).status, 200, 'the browser code needs no session')

  // An address too long for Node's parser is answered by the dashboard's own handler, with the CSP.
  const huge = await raw(dash.port, get(`/user?id=${'x'.repeat(20000)}`))
  t.equal(huge.status, 431)
  t.equal(huge.headers['content-security-policy'], CSP)
  t.match(huge.body, /too long/)

  // In a real browser: the form signs in under the CSP, and the SameSite=Strict cookie opens the page.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(async () => await browser.close())
  const tab = await browser.newPage()
  const violations: string[] = []
  tab.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()) })
  await tab.goto(`${base}/user`)
  t.match(tab.url(), /\/login\?next=%2Fuser$/)
  await tab.fill('input[name=user]', 'alice')
  await tab.fill('input[name=password]', 'not it')
  await tab.click('button[type=submit]')
  await tab.waitForSelector('p.state.error')
  t.equal(await tab.textContent('p.state.error'), 'wrong user name or password')
  await tab.fill('input[name=user]', 'alice')
  await tab.fill('input[name=password]', PASSWORD)
  await Promise.all([tab.waitForURL(`${base}/user`), tab.click('button[type=submit]')])
  await tab.waitForSelector('div.state.empty')
  t.match(await tab.textContent('main'), /Type an id to see who it belongs to/, 'signed in, the page draws')
  t.same(violations, [], 'no CSP violation')
  t.equal((await tab.context().cookies()).find(c => c.name === 'spoor_dashboard')?.httpOnly, true)
})

t.test('a trusted proxy\'s user header signs people in; from any other address it is ignored', async t => {
  const trusted = await startDashboard(config({ server: { trusted_proxies: ['127.0.0.1'] }, dashboard: { host: '0.0.0.0', port: 0, proxy_user_header: 'X-Forwarded-User' } }))
  t.teardown(trusted.stop)
  const viaProxy = await fetchNoRedirect(`${trusted.url}/channels`, { headers: { 'x-forwarded-user': 'bob@example.com' } })
  t.equal(viaProxy.status, 200)
  t.match(await viaProxy.text(), /<span class="who">bob@example\.com<\/span>/)
  const without = await fetchNoRedirect(`${trusted.url}/channels`)
  t.equal(without.status, 401, 'without the header: sign in through the proxy (there are no passwords)')
  t.match(await without.text(), /through the proxy that sets X-Forwarded-User/)

  const elsewhere = await startDashboard(config({ server: { trusted_proxies: ['10.0.0.0/8'] }, dashboard: { host: '0.0.0.0', port: 0, proxy_user_header: 'X-Forwarded-User' } }))
  t.teardown(elsewhere.stop)
  const spoofed = await fetchNoRedirect(`${elsewhere.url}/api/live`, { headers: { 'x-forwarded-user': 'bob@example.com' } })
  t.equal(spoofed.status, 401, 'the header from an address that is not a trusted proxy is not believed')
})

t.test('the Live page says so when the collector\'s admin listener does not answer', async t => {
  const adminPort = await freePort()
  const dash = await startDashboard(config({ admin: { port: adminPort }, dashboard: { port: 0 } }))
  t.teardown(dash.stop)
  const res = await fetchNoRedirect(`${dash.url}/api/live`)
  t.equal(res.status, 502)
  const body = await res.json() as { error: { code: string, message: string } }
  t.equal(body.error.code, 'SPOOR_E_ADMIN_UNAVAILABLE')
  t.match(body.error.message, new RegExp(`http://127\\.0\\.0\\.1:${adminPort}/metrics: .*is the collector \\(spoor serve\\) running`))
  const bad = await fetchNoRedirect(`${dash.url}/api/report?name=traffic&from=2026-11-29T00:00:00Z&to=2026-11-28T00:00:00Z`)
  t.equal(bad.status, 400)
  t.match(await bad.json(), { error: { code: 'SPOOR_E_REPORT_WINDOW', message: /from 2026-11-29T00:00:00\.000Z is not before to 2026-11-28T00:00:00\.000Z/ } })
})

t.test('every answer carries the Content-Security-Policy', async t => {
  t.ok(answers.length > 30, `${answers.length} answers`)
  for (const a of answers) t.equal(a.csp, CSP, a.what)
})
