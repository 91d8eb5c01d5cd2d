import type { Writable } from 'node:stream'
import { conflict } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { openStdin, resizeTerminal } from '../runtime/stdin.ts'
import type { ContainerRecord } from './record.ts'

/**
 * A container's stdin (through conmon's attach socket in its bundle), once it runs: `started` waits for a start
 * when it does not. Undefined for a container created without OpenStdin (`-i`), whose stdin is /dev/null.
 */
export async function containerStdin(rec: ContainerRecord, bundle: string, started: () => Promise<void>): Promise<{ input: Writable; closed: Promise<void> } | undefined> {
  if (!rec.config.OpenStdin) return undefined
  if (!rec.state.Running) await started()
  return openStdin(bundle)
}

/** A new size for the pseudo-terminal of a running TTY container (through conmon's control fifo); none without a TTY. */
export async function resizeContainerTerminal(rec: ContainerRecord, bundle: string, height: number, width: number, log: Logger): Promise<void> {
  if (!rec.state.Running) throw conflict(`Container ${rec.id} is not running`)
  if (!rec.config.Tty) return
  await resizeTerminal(bundle, height, width).catch((err: unknown) => log.debug('resize failed', { container: rec.id, err }))
}
