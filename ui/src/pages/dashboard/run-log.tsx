/**
 * One attempt's log. The drawer brings the end of the file; while the attempt
 * is active, the log stream (SSE) replays the file from its start and then
 * follows it line by line until the server says the run is over.
 */
import { Either, Schema } from "effect"
import { createEffect, createSignal, on, onCleanup, Show } from "solid-js"
import type { RunLog } from "../../../../schemas/api.ts"
import { call, endpointPath } from "../../data/client.ts"
import { ActionButton } from "../../ui/button.tsx"

const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(Schema.String))
const MAX_LINES = 5000

export const RunLogView = (props: { readonly log: RunLog; readonly active: boolean }) => {
  const [streamed, setStreamed] = createSignal<ReadonlyArray<string>>()
  const [tailing, setTailing] = createSignal(false)
  const [full, setFull] = createSignal<RunLog>()
  const [error, setError] = createSignal<string>()
  let pre: HTMLPreElement | undefined
  let source: EventSource | undefined

  const stop = () => {
    source?.close()
    source = undefined
    setTailing(false)
  }

  const start = () => {
    stop()
    const es = new EventSource(endpointPath("live", "runLogStream", { run: props.log.run }))
    source = es
    setTailing(true)
    const lines: Array<string> = []
    es.onmessage = (message: MessageEvent<string>) => {
      const line = decodeLine(message.data)
      if (Either.isLeft(line)) return
      lines.push(line.right)
      if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES)
      setStreamed([...lines])
    }
    es.addEventListener("end", () => stop())
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) stop()
    }
  }

  createEffect(
    on(
      () => [props.log.run, props.active] as const,
      ([, active]) => {
        if (active) start()
        else stop()
      }
    )
  )
  onCleanup(stop)

  const text = () => {
    const lines = streamed()
    if (lines !== undefined && lines.length > 0) return lines.join("\n")
    return (full() ?? props.log).content
  }

  // Follow the end while new lines arrive, unless the operator scrolled up.
  createEffect(
    on(text, () => {
      if (pre === undefined) return
      const nearEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 60
      if (nearEnd || tailing()) queueMicrotask(() => pre !== undefined && (pre.scrollTop = pre.scrollHeight))
    })
  )

  const loadFull = async () => {
    const result = await call((api) => api.dashboard.runLog({ path: { run: props.log.run } }))
    if (result.ok) {
      setFull(result.value)
      setError(undefined)
    } else setError(result.message)
  }

  return (
    <div class="run-log" data-testid="run-log">
      <div class="run-log-head">
        <span class="muted small">
          run #{props.log.run}, attempt {props.log.attempt} ·{" "}
          {props.log.exists ? `${(full() ?? props.log).size} bytes` : "no log file yet"}
          <Show when={(full() ?? props.log).truncated && streamed() === undefined}> · showing the end</Show>
        </span>
        <Show when={tailing()}>
          <span class="live live-live" data-testid="log-live">
            <span class="dot" />
            following
          </span>
        </Show>
        <Show when={!tailing() && props.log.truncated && full() === undefined}>
          <ActionButton kind="small" onClick={loadFull}>
            Load more of the log
          </ActionButton>
        </Show>
        <Show when={!tailing() && !props.active}>
          <ActionButton kind="small" onClick={async () => start()}>
            Re-read
          </ActionButton>
        </Show>
      </div>
      <Show when={error()}>
        <p class="error small">{error()}</p>
      </Show>
      <pre ref={pre} class="log" data-testid="log-text">
        {text() === "" ? "(empty)" : text()}
      </pre>
    </div>
  )
}
