// --format templates: cais prints what the docker CLI v28 prints for the same template and the same objects.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, dockerBin, startDaemon } from '../helpers/daemon.ts'

const skip = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

const inspectTemplates = [
  '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}{{if .State.Running}}up{{else}}down{{end}} {{len .Mounts}}',
  '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
  '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}} {{.Config.Env}} {{.Config.Labels}} {{json .Config.Labels}} {{.State.Pid}}',
  '{{printf "%5.2f|%-4s|%q|%v|%d" 3.14159 "ab" "x" .Config.Cmd .State.ExitCode}}',
  '{{with .State}}{{.Status}}{{end}} {{eq .State.Status "running" "exited"}} {{and .State.Running .Name}} {{or "" .Name}} {{not .State.Paused}}',
  '{{index .Config.Cmd 0}} {{slice .Id 0 5}} {{print 1 2 "a" 3}} {{println "x" 1}}|{{.NetworkSettings.Ports}}',
  '{{.Name | printf "%s!"}} {{ $x := 3 }}{{ $x = 4 }}{{$x}} {{- " trimmed " -}} x {{/* c */}}',
  '{{range $i, $e := .Config.Cmd}}{{if $i}},{{end}}{{$i}}:{{$e}}{{end}}',
  '{{if eq .State.Status "exited"}}E{{else if .State.Running}}R{{else}}?{{end}} {{.State.Health}} {{if .State.Health}}h{{end}}',
  '{{range .Config.Cmd}}{{if eq . "300"}}{{break}}{{end}}[{{.}}]{{end}} {{json .Mounts}}',
  '{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 3}} {{ne 1 2}} {{len "héllo"}} {{html "<a>"}} {{urlquery "a b&c"}} {{upper .Name}} {{title "a b"}}',
  '{{foo .Id}}',
  '{{.Id',
  '{{if .State.Running}}',
  '{{index .Config.Cmd 9}}',
]

const psTemplates = [
  'table {{.Label "tier"}}\\t{{.Names}}',
  'table {{truncate .Names 2}}|{{title .Names}}|{{split .Names "e"}}|{{.Label "tier" | upper}}|{{.Labels}}|{{pad .Names 1 1}}|{{json .Names}}',
  '{{.Names}} {{.Label "tier"}} {{.State}}',
  'table {{.ID}}\\t{{.Foo}}',
  '{{if}}',
  '{{join .Names ","}}',
]

test('inspect -f and ps --format print what the docker CLI prints', { skip }, async (t) => {
  const d = await startDaemon(t)
  for (const args of [
    ['run', '-d', '--name', 'web', '-l', 'tier=front', '-l', 'team=a', '-v', 'data:/data', BUSYBOX, 'sleep', '300'],
    ['create', '--name', 'idle', BUSYBOX, 'true'],
  ]) {
    const r = await d.docker(...args)
    assert.equal(r.code, 0, r.stderr)
  }
  const same = async (args: string[]): Promise<void> => {
    const theirs = await d.docker(...args)
    const ours = await d.cli(...args)
    assert.deepEqual(
      { code: ours.code === 0 ? 0 : 'non-zero', out: ours.stdout.trim(), err: ours.stderr.trim().split('\n').filter(Boolean) },
      { code: theirs.code === 0 ? 0 : 'non-zero', out: theirs.stdout.trim(), err: theirs.stderr.trim().split('\n').filter(Boolean) },
      args.join(' '),
    )
    assert.equal(ours.code, theirs.code, `exit status of ${args.join(' ')}`)
  }
  for (const f of inspectTemplates) await same(['inspect', '-f', f, 'web', 'idle'])
  for (const f of psTemplates) await same(['ps', '-a', '--format', f])
  await same(['images', '--format', 'table {{.Repository}}:{{.Tag}}\\t{{.Size}}'])
  await same(['volume', 'ls', '--format', '{{.Name}} {{.Driver}}'])
  await same(['network', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}'])
})
