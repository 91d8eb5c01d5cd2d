import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Template, goSprintf } from './go-template.ts'
import { formatRows, inspectFormatter, renderTemplate } from './template.ts'

const data = {
  ID: 'abc',
  State: { Status: 'running', Running: true, Pid: 42 },
  Labels: { b: '2', a: '1' },
  Env: ['A=1', 'B=2'],
  Mounts: [
    { Name: 'v1', Destination: '/data' },
    { Name: 'v2', Destination: '/cache' },
  ],
  Empty: [],
  Nil: null,
}

test('fields, functions, pipelines and escapes', () => {
  assert.equal(renderTemplate('{{.ID}}\\t{{.State.Status}}\\n', data), 'abc\trunning\n')
  assert.equal(renderTemplate('{{json .Env}} {{json .Labels}}', data), '["A=1","B=2"] {"b":"2","a":"1"}')
  assert.equal(renderTemplate('{{index .Labels "a"}} {{index .Env 1}} {{index .Mounts 1 | json}}', data), '1 B=2 {"Name":"v2","Destination":"/cache"}')
  assert.equal(renderTemplate('{{.Missing}} {{.Nil}} {{.Labels}} {{.Env}} {{.State.Pid}}', data), '<no value> <nil> map[a:1 b:2] [A=1 B=2] 42')
  assert.equal(renderTemplate('{{.ID | upper | printf "%s!"}} {{lower "AB"}} {{title "hello world"}}', data), 'ABC! ab Hello World')
  assert.equal(renderTemplate('{{join .Env ","}} {{split "a:b" ":"}} {{pad "x" 1 2}}| {{truncate "abcdef" 3}}', data), 'A=1,B=2 [a b]  x  | abc')
  assert.equal(renderTemplate('{{len .Mounts}} {{len .Labels}} {{len "héllo"}} {{slice .ID 1 2}}', data), '2 2 6 b')
  assert.equal(renderTemplate('{{print 1 2 "a" 3}}|{{println "x" 1}}|{{printf "%5.2f|%-4s|%q|%v|%d|%x|%05d" 3.14159 "ab" "x" .Env 7 255 -42}}', data), '1 2a3|x 1\n| 3.14|ab  |"x"|[A=1 B=2]|7|ff|-0042')
  assert.equal(renderTemplate('{{html "<a href=\\"x\\">"}} {{urlquery "a b&c"}} {{js "it\'s"}}', data), '&lt;a href=&#34;x&#34;&gt; a+b%26c it\\\'s')
  assert.equal(renderTemplate('{{(index .Mounts 0).Name}} {{ .ID -}}  {{- /* a comment */ -}}  !', data), 'v1 abc!')
})

test('control structures: range, if, else if, with, variables, break and continue', () => {
  assert.equal(
    renderTemplate('{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}{{if .State.Running}}up{{else}}down{{end}} {{len .Mounts}}', data),
    'v1:/data v2:/cache up 2',
  )
  assert.equal(renderTemplate('{{range $i, $m := .Mounts}}{{if $i}},{{end}}{{$i}}={{$m.Name}}{{end}}', data), '0=v1,1=v2')
  assert.equal(renderTemplate('{{range $k, $v := .Labels}}{{$k}}{{$v}}{{end}}', data), 'a1b2')
  assert.equal(renderTemplate('{{range .Empty}}x{{else}}none{{end}} {{range .Nil}}x{{end}}.', data), 'none .')
  assert.equal(renderTemplate('{{if eq .State.Status "exited"}}E{{else if .State.Running}}R{{else}}?{{end}}', data), 'R')
  assert.equal(renderTemplate('{{with .State}}{{.Status}}{{end}} {{with .Empty}}x{{else}}empty{{end}}', data), 'running empty')
  assert.equal(renderTemplate('{{$x := 1}}{{$x = 2}}{{$x}} {{$.ID}} {{range .Mounts}}{{$.ID}}{{end}}', data), '2 abc abcabc')
  assert.equal(renderTemplate('{{range .Env}}{{if eq . "B=2"}}{{break}}{{end}}[{{.}}]{{end}}{{range .Env}}{{if eq . "A=1"}}{{continue}}{{end}}<{{.}}>{{end}}', data), '[A=1]<B=2>')
  assert.equal(renderTemplate('{{and 1 0 2}} {{or 0 "" "x"}} {{not .Empty}} {{and .State.Running .ID}}', data), '0 x true abc')
  assert.equal(renderTemplate('{{eq 1 2 1}} {{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 3}} {{eq .Nil nil}}', data), 'true true true true true false true')
})

test("errors read as Go's", () => {
  const parseError = (t: string): string => {
    try {
      new Template(t)
      return ''
    } catch (err) {
      return (err as Error).message
    }
  }
  assert.equal(parseError('{{foo .ID}}'), 'template: :1: function "foo" not defined')
  assert.equal(parseError('{{.ID'), 'template: :1: unclosed action')
  assert.equal(parseError('{{if}}'), 'template: :1: missing value for if')
  assert.equal(parseError('{{if .A}}x'), 'template: :1: unexpected EOF')
  assert.equal(parseError('{{end}}'), 'template: :1: unexpected {{end}}')
  assert.equal(parseError('a\n{{break}}'), 'template: :2: {{break}} outside {{range}}')
  assert.throws(() => renderTemplate('{{.ID 1}}', data), /can't give argument to non-function \.ID/)
  assert.throws(() => renderTemplate('{{index .Env 5}}', data), /template: :1:2: executing "" at <index .Env 5>: error calling index: index out of range: 5/)
  assert.throws(() => renderTemplate('{{join .ID ","}}', data), /wrong type for value; expected \[\]string; got string/)
  assert.equal(goSprintf('%d %s', [1]), '1 %!s(MISSING)')
})

test('table listings: headers through the header functions, .Label, unknown fields, tabwriter layout', () => {
  const rows = [
    { ID: 'abc', Names: 'web', Labels: 'a=b,c=d' },
    { ID: 'defgh', Names: 'db', Labels: '' },
  ]
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES', Labels: 'LABELS' }
  assert.deepEqual(formatRows('table {{.Label "a"}}\\t{{json .Names}}\\t{{.ID}}', rows, headers), ['a         NAMES     CONTAINER ID', 'b         "web"     abc', '          "db"      defgh'])
  assert.deepEqual(formatRows('{{.Names}}:{{.Label "c"}}', rows, headers), ['web:d', 'db:'])
  assert.throws(() => formatRows('{{.Foo}}', rows, headers, 'formatter.ContainerContext'), {
    message: 'failed to execute template: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext',
  })
  assert.throws(() => formatRows('{{if}}', rows, headers), { message: 'failed to parse template: template: :1: missing value for if' })
})

test('inspect -f: an omitted field is nil, as a Go struct pointer; parse errors exit 64', () => {
  const render = inspectFormatter('{{.State.Health}} {{if .State.Health}}h{{else}}-{{end}} {{.Config.Labels}}')
  assert.equal(render({ State: {}, Config: { Labels: { a: 'b' } } }), '<nil> - map[a:b]')
  assert.throws(() => inspectFormatter('{{.ID'), (err: Error & { exitStatus?: number }) => err.message === 'template parsing error: template: :1: unclosed action' && err.exitStatus === 64)
})
