// `spoor config check FILE`: load a config file as `serve` would, and say ok or what is wrong.

import { loadConfig } from '../config'

/** Needs no loaded config of its own, so the dispatcher runs it before loading one. */
export async function configCheckCommand (file: string | undefined): Promise<void> {
  loadConfig(file)
  console.log(`${file}: ok`)
}
