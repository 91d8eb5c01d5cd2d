/** What compose reports as it goes: one line per object and step, as docker compose prints its progress. */
export type Report = (line: string) => void
