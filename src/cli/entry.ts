// The CLI process: bin/cais runs this file (or the bundle made of it, see scripts/build-cli.ts).
import { main } from './main.ts'
import { processIo } from './io.ts'

void main(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code
})
