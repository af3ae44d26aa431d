// Building the page: elements with text nodes only (never HTML from data), shown numbers that keep their exact value.

import { count, exact } from './format'

export type Child = Node | string | number | null | undefined | false

/** An element with attributes and children; strings become text nodes, so stored data can never become markup. */
export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v)
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

/** A number as shown (`text`, by default the compact count) that keeps its exact value in data-value and its tooltip. */
export function num (value: number, text: string = count(value), title: string = exact(value)): HTMLElement {
  return h('span', { class: 'num', 'data-value': String(value), title }, text)
}

const isNum = (c: Child): boolean => c instanceof Element && c.classList.contains('num')

/** A table with a header row; `section` names it for whoever reads the page (and for the tests). */
export function table (section: string, head: string[], rows: Child[][], caption?: string): HTMLTableElement {
  return h('table', { 'data-section': section },
    caption !== undefined ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, ...head.map((c, i) => h('th', { scope: 'col', class: i > 0 && isNum(rows[0]?.[i]) ? 'n' : undefined }, c)))),
    h('tbody', {}, ...rows.map(r => h('tr', {}, ...r.map((c, i) => i === 0 ? h('th', { scope: 'row' }, c) : h('td', { class: isNum(c) ? 'n' : undefined }, c))))))
}

/** A headline figure: its label and its number. */
export function tile (metric: string, label: string, value: HTMLElement, note?: string): HTMLElement {
  return h('div', { class: 'tile', 'data-metric': metric }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note !== undefined ? h('div', { class: 'note' }, note) : null)
}

export function main (): HTMLElement {
  return document.getElementById('main') as HTMLElement
}

/** Replaces the page's content below its title. */
export function render (...children: Child[]): void {
  const m = main()
  const title = m.querySelector('h1')
  m.replaceChildren(...(title !== null ? [title] : []))
  for (const c of children) if (c !== null && c !== undefined && c !== false) m.append(c instanceof Node ? c : String(c))
}

/** Shows the first `first` rows of a long table, and a button that shows the rest (which stay in the page, hidden). */
export function firstRows (t: HTMLTableElement, first: number, what: string): HTMLElement {
  const rows = [...t.tBodies[0].rows]
  if (rows.length <= first) return t
  for (const r of rows.slice(first)) r.hidden = true
  const more = h('button', { type: 'button', class: 'more' }, `Show all ${rows.length} ${what}`)
  more.addEventListener('click', () => {
    for (const r of rows) r.hidden = false
    more.remove()
  })
  return h('div', {}, t, more)
}
