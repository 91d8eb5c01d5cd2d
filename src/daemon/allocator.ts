/**
 * bin/caisd preloads jemalloc for the daemon (memory at rest): what the daemon starts — crun, conmon, iptables, the
 * mount helper, and through them the containers' runtimes — keeps the system's malloc. Called first thing.
 */
export function keepPreloadToSelf(env: NodeJS.ProcessEnv = process.env): void {
  const mine = env['CAIS_PRELOADED']
  if (!mine) return
  const rest = (env['LD_PRELOAD'] ?? '').split(':').filter((p) => p !== '' && p !== mine)
  if (rest.length > 0) env['LD_PRELOAD'] = rest.join(':')
  else delete env['LD_PRELOAD']
  delete env['MALLOC_CONF']
  delete env['CAIS_PRELOADED']
}
