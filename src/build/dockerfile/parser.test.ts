import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseDockerfile, parseJsonForm } from './parser.ts'

test('directives at the top: escape, syntax (reported as ignored), check; later ones are comments', () => {
  const df = parseDockerfile('# escape=`\n# syntax=docker/dockerfile:1\n# check=skip=all\nFROM x\n# escape=\\\nRUN a `\n  b\n')
  assert.equal(df.escape, '`')
  assert.equal(df.directives.get('check'), 'skip=all')
  assert.match(df.warnings[0]!, /syntax directive \(docker\/dockerfile:1\) is ignored/)
  assert.deepEqual(df.instructions.map((i) => [i.keyword, i.rest]), [['FROM', 'x'], ['RUN', 'a   b']])
})

test('continuations join lines and skip blank and comment lines inside them', () => {
  const df = parseDockerfile('FROM x\nRUN echo a \\\n\n# a comment\n    && echo b\nCMD c\n')
  assert.deepEqual(df.instructions.map((i) => [i.keyword, i.rest, i.line, i.endLine]), [
    ['FROM', 'x', 1, 1],
    ['RUN', 'echo a     && echo b', 2, 5],
    ['CMD', 'c', 6, 6],
  ])
})

test('flags are split from arguments, quoted values unquoted', () => {
  const [, copy] = parseDockerfile('FROM x\nCOPY --from=build --chown="1:2" --link a b/\n').instructions
  assert.deepEqual(copy!.flags, [{ name: 'from', value: 'build' }, { name: 'chown', value: '1:2' }, { name: 'link', value: undefined }])
  assert.equal(copy!.rest, 'a b/')
})

test('here-documents: plain, <<- (tabs stripped), quoted (no expansion), several on one line', () => {
  const text = 'FROM x\nRUN <<EOF\necho $A\nEOF\nRUN <<-"END" cat >/f && cat <<TWO\n\tkept\n\tEND\nsecond\nTWO\nCMD done\n'
  const df = parseDockerfile(text)
  const [, one, two, cmd] = df.instructions
  assert.deepEqual(one!.heredocs, [{ name: 'EOF', chomp: false, quoted: false, content: 'echo $A\n' }])
  assert.deepEqual(two!.heredocs, [
    { name: 'END', chomp: true, quoted: true, content: 'kept\n' },
    { name: 'TWO', chomp: false, quoted: false, content: 'second\n' },
  ])
  assert.equal(cmd!.keyword, 'CMD')
  assert.equal(cmd!.line, 10)
})

test('errors name the file, line and column', () => {
  assert.throws(() => parseDockerfile('FROM x\n  BOGUS y\n', 'app/Dockerfile'), /dockerfile parse error on line 2: unknown instruction: BOGUS \(app\/Dockerfile:2:3\)/)
  assert.throws(() => parseDockerfile('FROM x\nRUN <<EOF\nnever ends\n'), /line 2: unterminated heredoc EOF/)
  assert.throws(() => parseDockerfile('# escape=x\nFROM x\n'), /invalid escape token 'x'/)
})

test('exec form: a JSON array of strings; anything else is the shell form', () => {
  assert.deepEqual(parseJsonForm('["a", "b c"]'), ['a', 'b c'])
  assert.equal(parseJsonForm('[a, b]'), undefined)
  assert.equal(parseJsonForm('[1]'), undefined)
  assert.equal(parseJsonForm('echo [x]'), undefined)
})
