import { yaml } from '@codemirror/lang-yaml'
import { type Diagnostic, lintGutter, linter } from '@codemirror/lint'
import { EditorView, basicSetup } from 'codemirror'
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'

interface ComposeDiagnostic {
  line: number
  column: number
  message: string
}

/**
 * A stack's compose file in CodeMirror, checked by compose itself as it is typed (the server loads the project
 * with the edit in place of the file); Save writes it where it is, only when nothing is wrong with it.
 */
export function ComposeEditor(props: { project: string }): preact.JSX.Element {
  const host = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView | undefined>(undefined)
  const [file, setFile] = useState<{ path: string; content: string } | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [status, setStatus] = useState('')
  const base = `/api/stacks/${encodeURIComponent(props.project)}`
  useEffect(() => {
    api<{ path: string; content: string }>('GET', `${base}/file`).then(setFile, setError)
  }, [base])
  useEffect(() => {
    if (!file || !host.current) return
    const check = linter(
      async (v): Promise<Diagnostic[]> => {
        const { diagnostics } = await api<{ diagnostics: ComposeDiagnostic[] }>('POST', `${base}/check`, { content: v.state.doc.toString() })
        setStatus(diagnostics.length === 0 ? 'No problems' : `${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'}`)
        return diagnostics.map((d) => {
          const line = v.state.doc.line(Math.min(Math.max(d.line, 1), v.state.doc.lines))
          const from = Math.min(line.from + Math.max(d.column, 1) - 1, line.to)
          return { from, to: Math.max(from, line.to), severity: 'error', message: d.message }
        })
      },
      { delay: 300 },
    )
    const v = new EditorView({ doc: file.content, extensions: [basicSetup, yaml(), check, lintGutter()], parent: host.current })
    view.current = v
    return () => v.destroy()
  }, [file])
  const save = async (): Promise<void> => {
    setError(undefined)
    try {
      await api('PUT', `${base}/file`, { content: view.current?.state.doc.toString() ?? '' })
      setStatus('Saved')
    } catch (err) {
      setError(err)
      setStatus('Not saved')
    }
  }
  return (
    <div data-testid="compose-editor">
      <div class="toolbar">
        <span class="mono">{file?.path ?? ''}</span>
        <button type="button" data-action="save" onClick={() => void save()}>
          Save
        </button>
        <span class="muted" data-testid="editor-status">
          {status}
        </span>
      </div>
      <ErrorBox error={error} />
      <div ref={host} class="editor" />
    </div>
  )
}
