import type { RestartPolicy } from '../wire/types.ts'

/** Docker's backoff: 100 ms doubling per restart up to a minute; reset once a run lasted 10 s. */
export const initialRestartDelayMs = 100
export const maxRestartDelayMs = 60_000
const resetAfterMs = 10_000

/** Whether a container that just exited should be restarted by its policy. */
export function shouldRestart(policy: RestartPolicy, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false
  switch (policy.Name) {
    case 'always':
    case 'unless-stopped':
      return true
    case 'on-failure':
      return exitCode !== 0 && (policy.MaximumRetryCount <= 0 || restartCount < policy.MaximumRetryCount)
    default:
      return false
  }
}

export function nextRestartDelay(previousMs: number | undefined, ranMs: number): number {
  if (previousMs === undefined || ranMs >= resetAfterMs) return initialRestartDelayMs
  return Math.min(previousMs * 2, maxRestartDelayMs)
}

/** Policies under which caisd starts a container when the daemon itself starts. */
export function startsWithDaemon(policy: RestartPolicy, manuallyStopped: boolean): boolean {
  return policy.Name === 'always' || (policy.Name === 'unless-stopped' && !manuallyStopped)
}
