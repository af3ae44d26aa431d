// Platforms: the stored platforms report as an overlap matrix (people on A and also on B) and the people on all of them.

import { h, num, table, type Child } from '../dom'
import { field, reportPage } from '../report-page'
import type { PlatformsReport as Platforms } from '../../../daemon/reports/report-types'

function draw (r: Platforms): Child[] {
  if (r.platforms.length === 0) return [h('div', { class: 'state empty' }, h('p', {}, 'No events with a platform (p) in this window.'))]
  const names = r.platforms.map(p => p.platform)
  const pair = new Map(r.pairs.flatMap(p => [[`${p.a}\u0000${p.b}`, p.users], [`${p.b}\u0000${p.a}`, p.users]]))
  const most = Math.max(1, ...r.platforms.map(p => p.users))
  const cell = (a: { platform: string, users: number }, b: string): HTMLElement => {
    const users = b === a.platform ? a.users : pair.get(`${a.platform}\u0000${b}`) ?? 0
    const el = h('span', { class: `cell${b === a.platform ? ' own' : ''}`, 'data-a': a.platform, 'data-b': b }, num(users))
    // A shade for the share of the largest platform, set through the CSSOM (the CSP allows no style attributes).
    el.style.setProperty('--share', String(users / most))
    return el
  }
  const matrix = table('matrix', ['people on both', ...names], r.platforms.map(a => [a.platform, ...names.map(b => cell(a, b))]))
  return [
    h('p', { class: 'lead', 'data-section': 'all' }, `People on all of ${r.all.platforms.join(', ')}: `, num(r.all.users)),
    h('h2', {}, 'People on both platforms (row and column)'),
    h('p', { class: 'hint' }, 'The diagonal is each platform\'s own people. A person is a canonical user: a login joins their browsers and apps, so one person on the web and in an app counts once in the pair.'),
    matrix,
    h('h2', {}, 'People per platform'),
    table('platforms', ['platform', 'people'], r.platforms.map(p => [p.platform, num(p.users)]))
  ]
}

export async function platforms (): Promise<void> {
  await reportPage<Platforms>('platforms', 'platforms', q => [field('platforms', 'Platforms', q, 'all, or web,android')], r => draw(r))
}
