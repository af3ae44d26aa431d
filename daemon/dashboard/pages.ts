// The dashboard's HTML: one shell per page, which the browser code (dashboard/src/) fills from the JSON API, and the sign-in page.

/** The pages, in the order of the navigation: path, page id, title. */
export const PAGES: ReadonlyArray<{ path: string, id: string, title: string }> = [
  { path: '/', id: 'overview', title: 'Overview' },
  { path: '/platforms', id: 'platforms', title: 'Platforms' },
  { path: '/channels', id: 'channels', title: 'Channels' },
  { path: '/live', id: 'live', title: 'Live' },
  { path: '/user', id: 'user', title: 'User' }
]

/** Text for HTML, in element content and quoted attributes alike. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

function head (title: string): string {
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · spoor</title>
<link rel="stylesheet" href="/assets/app.css">
`
}

/** A page's shell: navigation, who is signed in, and an empty main that the browser code fills. */
export function shell (page: typeof PAGES[number], user: string, signOut: boolean): string {
  const nav = PAGES.map(p => `<a href="${p.path}"${p.id === page.id ? ' aria-current="page"' : ''}>${p.title}</a>`).join('')
  const who = user === '' ? '' : `<span class="who">${escapeHtml(user)}</span>`
  const out = signOut ? '<form method="post" action="/logout"><button type="submit">Sign out</button></form>' : ''
  return `${head(page.title)}<script src="/assets/app.js" defer></script>
<body data-page="${page.id}">
<header><strong class="brand">spoor</strong><nav>${nav}</nav><div class="account">${who}${out}</div></header>
<main id="main"><h1>${page.title}</h1><p class="state" id="state">Loading…</p><noscript><p class="state error">The dashboard draws its pages with JavaScript; allow it for this site.</p></noscript></main>
</body>
</html>
`
}

/** The sign-in form; `message` says why it is shown again. */
export function loginPage (next: string, message = ''): string {
  return `${head('Sign in')}<body class="login">
<main>
<h1>spoor</h1>
<form method="post" action="/login">
${message === '' ? '' : `<p class="state error" role="alert">${escapeHtml(message)}</p>\n`}<label>User <input name="user" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`
}

/** A whole page for an error answered without the shell: a status, what happened and what to do. */
export function errorPage (title: string, message: string): string {
  return `${head(title)}<body>
<main><h1>${escapeHtml(title)}</h1><p class="state error">${escapeHtml(message)}</p><p><a href="/">Back to the overview</a></p></main>
</body>
</html>
`
}
