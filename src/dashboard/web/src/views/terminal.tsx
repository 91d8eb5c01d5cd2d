import { FitAddon } from '@xterm/addon-fit'
import { Terminal } from '@xterm/xterm'
import { useEffect, useRef, useState } from 'preact/hooks'
import { openChannel, session } from '../api.ts'

/**
 * A shell in the container: an exec with a TTY over a WebSocket. Keystrokes go out as binary messages and output
 * comes back the same way; a resize is a text message. When the shell ends, its exit code shows.
 */
export function TerminalPanel(props: { id: string }): preact.JSX.Element {
  const box = useRef<HTMLDivElement>(null)
  const [status, setStatus] = useState('connecting…')
  const [command, setCommand] = useState('sh')
  const [run, setRun] = useState({ command: 'sh', n: 0 })
  useEffect(() => {
    const term = new Terminal({ cursorBlink: true, fontSize: 13, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace' })
    const fit = new FitAddon()
    term.loadAddon(fit)
    term.open(box.current!)
    fit.fit()
    setStatus('connecting…')
    const encoder = new TextEncoder()
    const channel = openChannel(
      '/ws/exec',
      () => ({ id: props.id, cmd: run.command.split(/\s+/).filter(Boolean), cols: String(term.cols), rows: String(term.rows), csrf: session.value?.csrf ?? '' }),
      {
        onOpen() {
          setStatus('connected')
          term.focus()
        },
        onMessage(data) {
          if (typeof data !== 'string') return term.write(new Uint8Array(data))
          const msg = JSON.parse(data) as { exit?: number; error?: string }
          if (msg.error) {
            setStatus(`error: ${msg.error}`)
            term.write(`\r\n\x1b[31m${msg.error}\x1b[0m\r\n`)
          }
          if (msg.exit !== undefined) setStatus(`exited with code ${msg.exit}`)
        },
        onEnd(reason) {
          setStatus((s) => (s.startsWith('exited') || s.startsWith('error') ? s : reason || 'closed'))
        },
      },
      { reconnect: false },
    )
    const keys = term.onData((d) => channel.send(encoder.encode(d)))
    const binary = term.onBinary((d) => channel.send(Uint8Array.from(d, (c) => c.charCodeAt(0))))
    const resize = term.onResize(({ cols, rows }) => channel.send(JSON.stringify({ resize: [cols, rows] })))
    const onWindowResize = (): void => fit.fit()
    window.addEventListener('resize', onWindowResize)
    return () => {
      channel()
      keys.dispose()
      binary.dispose()
      resize.dispose()
      window.removeEventListener('resize', onWindowResize)
      term.dispose()
    }
  }, [props.id, run])
  return (
    <div class="terminal-panel">
      <div class="toolbar">
        <label>
          Command <input value={command} aria-label="Command" onInput={(e) => setCommand(e.currentTarget.value)} />
        </label>
        <button type="button" onClick={() => setRun({ command, n: run.n + 1 })}>
          Run
        </button>
        <span class="muted" data-testid="terminal-status">
          {status}
        </span>
      </div>
      <div class="terminal" ref={box} data-testid="terminal" />
    </div>
  )
}
