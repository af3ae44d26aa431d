// localStorage that never throws: storage may be disabled, full or blocked (Safari private mode, blocked cookies).

export function load (key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null
  }
}

/** Returns false when the value could not be stored. */
export function save (key: string, value: string): boolean {
  try {
    localStorage.setItem(key, value)
    return true
  } catch {
    return false
  }
}

export function forget (key: string): void {
  try {
    localStorage.removeItem(key)
  } catch {}
}
