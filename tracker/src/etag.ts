// The ETag id (eti): the browser's HTTP cache keeps the ETag of {collector}/id.gif and revalidates it, so the same id comes back.

/** Resolves with the ETag without quotes or W/, or undefined when the fetch fails or has none. */
export function etagId (collector: string): Promise<string | undefined> {
  return fetch(collector + '/id.gif', { cache: 'no-cache', credentials: 'omit' })
    .then(res => (res.headers.get('ETag') || '').replace(/^W\/|"/g, '') || undefined)
    .catch(() => undefined)
}
