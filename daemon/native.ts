// The one module that loads spoor's native encoder; everything else imports it from here.

import { join } from 'node:path'
import type * as Binding from '../native/index'

// The generated loader sits next to the built .node file in native/, outside dist/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof Binding = require(join(__dirname, '..', '..', 'native'))

/** Flags of a non-negative Encoder.pixel/events result: NEW_UID, BATCH_FULL. */
export const { Encoder, userRowPrefix, uidBytes, NEW_UID, BATCH_FULL } = binding
export type Encoder = Binding.Encoder
export type EncoderOptions = Binding.EncoderOptions
