/** An engine's error, as it said it: a view never goes blank. */
export function ErrorBox(props: { error: unknown }): preact.JSX.Element | null {
  if (props.error === undefined || props.error === null) return null
  return (
    <div class="error" role="alert">
      {props.error instanceof Error ? props.error.message : JSON.stringify(props.error)}
    </div>
  )
}
