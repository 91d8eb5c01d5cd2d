import { randomBytes } from 'node:crypto'

/** A new 64-hex ID as Docker uses for containers, networks, execs and anonymous volumes. */
export function newId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex')
    // Docker avoids all-numeric short IDs: they would be read as numbers by some tools.
    if (!/^\d+$/.test(id.slice(0, 12))) return id
  }
}

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)

const adjectives = ['admiring', 'bold', 'brave', 'clever', 'eager', 'elastic', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'kind', 'lucid', 'nifty', 'quirky', 'serene', 'sharp', 'tender', 'vibrant', 'zealous']
const surnames = ['albattani', 'bell', 'curie', 'darwin', 'einstein', 'euler', 'feynman', 'galileo', 'hopper', 'hypatia', 'kepler', 'lovelace', 'meitner', 'newton', 'noether', 'pasteur', 'ritchie', 'shannon', 'turing', 'wozniak']

/** A random `adjective_surname` name, as Docker gives containers created without --name. */
export function randomName(attempt: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[randomBytes(1)[0]! % xs.length]!
  const base = `${pick(adjectives)}_${pick(surnames)}`
  return attempt > 0 ? `${base}${randomBytes(1)[0]! % 10}` : base
}
