import { execFile } from './exec.ts'

/** Bytes a tree takes, as `du -sb` counts them (hard links once); 0 when it is not there. */
export async function diskUsage(path: string): Promise<number> {
  const r = await execFile('du', ['-sb', path])
  return r.code === 0 ? Number(r.stdout.split('\t')[0]) || 0 : 0
}
