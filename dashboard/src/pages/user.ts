// User: any id's canonical user and linked ids (as `spoor identity`), and a uid's newest events (as `spoor user`), paged.

import { api, errorBox, stateBox } from '../api'
import { h, num, render, table } from '../dom'
import { dateTime, dateTimeSeconds } from '../format'

interface Resolution { id: string, canonical: string, ids: string[], logins: Array<{ id: string, lastSeen: number, platform: string }>, truncated: boolean }
interface EventsPage { uid: string, events: Array<{ ts: number } & Record<string, string>>, next?: string }

const ID_TYPES: Record<string, string> = { u: 'uid', v: 'visitor id (tracker)', s: 'storage id', e: 'ETag id', f: 'fingerprint', l: 'login id' }
/** The columns shown as their own cells; the rest are listed as key=value. */
const COLUMNS: Array<[string, string]> = [['a', 'action'], ['p', 'platform'], ['url', 'url'], ['ref', 'referrer'], ['it', 'item'], ['ch', 'channel'], ['co', 'country'], ['sid', 'session']]

const userLink = (id: string): HTMLElement => h('a', { href: `/user?id=${encodeURIComponent(id)}` }, id)

function identityView (r: Resolution): HTMLElement {
  const others = r.ids.filter(id => id !== r.id)
  return h('section', { 'data-section': 'identity' },
    h('h2', {}, 'Identity'),
    h('p', { class: 'lead' }, 'Canonical user: ', h('strong', { 'data-field': 'canonical' }, r.canonical)),
    others.length === 0 && r.logins.length === 0
      ? stateBox('empty', `No other id is linked to ${r.id}: it was never seen on one event with another id (or was never seen at all).`)
      : null,
    table('ids', ['id', 'kind'], r.ids.map(id => [id === r.id ? h('span', { class: 'key' }, id) : userLink(id), ID_TYPES[id[0]] ?? '']), `Linked ids (${r.ids.length}${r.truncated ? ', the walk stopped at its limit' : ''})`),
    r.logins.length === 0 ? null : table('logins', ['login', 'last seen', 'platform'], r.logins.map(l => [userLink(l.id), h('time', { datetime: new Date(l.lastSeen).toISOString(), 'data-value': String(l.lastSeen) }, dateTime(l.lastSeen)), l.platform]), 'Logins seen with these ids, the most recent first'))
}

function eventRow (e: { ts: number } & Record<string, string>): HTMLTableRowElement {
  const rest = Object.entries(e).filter(([k]) => k !== 'ts' && k !== 'uid' && !COLUMNS.some(([c]) => c === k)).map(([k, v]) => `${k}=${v}`).join(' ')
  return h('tr', { 'data-id': e.id },
    h('th', { scope: 'row' }, h('time', { datetime: new Date(e.ts).toISOString(), 'data-value': String(e.ts) }, dateTimeSeconds(e.ts))),
    ...COLUMNS.map(([c]) => h('td', { 'data-field': c }, e[c] ?? '')),
    h('td', { class: 'rest' }, rest === '' ? '' : h('details', {}, h('summary', {}, `${rest.split(' ').filter(x => x.includes('=')).length} more`), rest)))
}

export async function user (): Promise<void> {
  const q = new URLSearchParams(location.search)
  const id = q.get('id') ?? ''
  const limit = q.get('limit') ?? undefined
  const form = h('form', { class: 'window', method: 'get' },
    h('label', {}, 'Id ', h('input', { name: 'id', value: id, placeholder: 'a uid, u:<uid>, l:alice, v:…', size: '48', required: '' })),
    limit !== undefined ? h('input', { type: 'hidden', name: 'limit', value: limit }) : null,
    h('button', { type: 'submit' }, 'Look up'),
    h('p', { class: 'hint' }, 'A plain uid, or an id written t:value: u: uid, l: login, v: visitor, s: storage, e: ETag, f: fingerprint.'))
  if (id === '') {
    render(form, stateBox('empty', 'Type an id to see who it belongs to and its newest events.'))
    return
  }
  render(form, h('p', { class: 'state', id: 'state' }, 'Loading…'))
  const typed = /^([a-z]):/.exec(id)
  const isUid = typed === null || !(typed[1] in ID_TYPES) || typed[1] === 'u'
  const [identity, events] = await Promise.allSettled([api<Resolution>('identity', { id }), isUid ? api<EventsPage>('events', { id, limit }) : Promise.resolve(undefined)])
  const parts: HTMLElement[] = [form]
  parts.push(identity.status === 'fulfilled' ? identityView(identity.value) : errorBox(identity.reason))
  const section = h('section', { 'data-section': 'events' }, h('h2', {}, 'Newest events'))
  parts.push(section)
  if (events.status === 'rejected') {
    section.append(errorBox(events.reason))
  } else if (events.value === undefined) {
    section.append(stateBox('empty', 'Events are stored by uid. Open one of the u: ids linked above for its events.'))
  } else if (events.value.events.length === 0) {
    section.append(stateBox('empty', `No events are stored for uid ${events.value.uid}. A uid is matched exactly; one the collector made is 32 hex characters.`))
  } else {
    const page = events.value
    const tbody = h('tbody', {}, ...page.events.map(eventRow))
    let shown = num(page.events.length)
    const more = h('button', { type: 'button', class: 'more' }, 'Older events')
    let next = page.next
    more.hidden = next === undefined
    more.addEventListener('click', () => {
      more.disabled = true
      api<EventsPage>('events', { id, limit, after: next }).then(older => {
        tbody.append(...older.events.map(eventRow))
        next = older.next
        more.hidden = next === undefined
        more.disabled = false
        const now = num(tbody.children.length)
        shown.replaceWith(now)
        shown = now
      }, err => { more.replaceWith(errorBox(err)) })
    })
    section.append(
      h('p', { class: 'hint', 'data-field': 'uid' }, `uid ${page.uid}, newest first: `, shown, ' shown'),
      h('table', { 'data-section': 'events' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'time'), ...COLUMNS.map(([, label]) => h('th', { scope: 'col' }, label)), h('th', { scope: 'col' }, 'other fields'))), tbody),
      more)
  }
  render(...parts)
}
