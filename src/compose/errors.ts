/** An error in a compose project a user can fix: a file, a variable, an attribute. Printed alone, exit 1. */
export class ComposeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ComposeError'
  }
}
