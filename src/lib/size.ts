/**
 * Docker's human size in SI units, to `precision` significant digits: 3 ("4.26MB", `docker images`, go-units'
 * HumanSizeWithPrecision) by default, 4 ("4.261MB") where Docker prints go-units' HumanSize.
 */
export function humanSize(bytes: number, precision = 3): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  let v = bytes
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${Number(v.toPrecision(precision))}${units[i]}`
}

/** Parses "10m", "1g", "512k", "100" (bytes), as Docker's RAMInBytes. */
export function parseBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(value.trim())
  if (!m) return undefined
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!)
}
