/** Lays out rows as Docker's tabwriter does: columns padded to their widest cell plus 3 spaces. */
export function renderTable(rows: string[][]): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)))
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length + 3)))
      .join('')
      .trimEnd(),
  )
}
