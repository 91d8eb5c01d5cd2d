import { type Document, Scalar, isNode, visit } from 'yaml'

/** `!reset`: the attribute is removed from what earlier files said. */
export const RESET: unique symbol = Symbol('!reset')

/** `!override`: the attribute replaces what earlier files said, instead of merging with it. */
export class Override {
  readonly value: unknown
  constructor(value: unknown) {
    this.value = value
  }
}

/** Replaces the nodes tagged `!reset` and `!override` in a parsed file by their markers, before `toJS`. */
export function markMergeTags(doc: Document): void {
  visit(doc, {
    Node(_, node) {
      if (!isNode(node)) return undefined
      if (node.tag === '!reset') return new Scalar(RESET)
      if (node.tag === '!override') {
        node.tag = undefined
        return new Scalar(new Override(node.toJS(doc)))
      }
      return undefined
    },
  })
}

/** The tree without markers: a reset attribute gone, an override its plain value (what a single file means). */
export function stripMarkers(v: unknown): unknown {
  if (v instanceof Override) return stripMarkers(v.value)
  if (Array.isArray(v)) return v.filter((x) => x !== RESET).map(stripMarkers)
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== RESET).map(([k, x]) => [k, stripMarkers(x)]))
  }
  return v
}
