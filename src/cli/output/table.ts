/**
 * Lays out rows as the docker CLI's tabwriter does (minimum width 10, padding 3): each column as wide as its
 * widest cell plus 3 spaces, and at least 10; the last cell of a line is not padded.
 */
export function renderTable(rows: string[][]): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 7, [...cell].length)))
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length + 3)))
      .join('')
      .trimEnd(),
  )
}
