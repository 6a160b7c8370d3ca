/** Copies text to the clipboard; turns green for a moment when it worked. */
import { createSignal } from "solid-js"

const copyText = async (text: string): Promise<boolean> => {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // Plain http to a non-localhost host has no Clipboard API; fall back to a selection.
    const area = document.createElement("textarea")
    area.value = text
    area.style.position = "fixed"
    area.style.opacity = "0"
    document.body.append(area)
    area.select()
    const ok = document.execCommand("copy")
    area.remove()
    return ok
  }
}

export const CopyButton = (props: { readonly text: string; readonly label?: string }) => {
  const [state, setState] = createSignal<"idle" | "copied" | "failed">("idle")
  const copy = async () => {
    setState((await copyText(props.text)) ? "copied" : "failed")
    setTimeout(() => setState("idle"), 1500)
  }
  return (
    <button
      type="button"
      class="button button-small copy"
      classList={{ copied: state() === "copied", "copy-failed": state() === "failed" }}
      title={props.text}
      onClick={() => void copy()}
    >
      {state() === "copied" ? "Copied" : state() === "failed" ? "Copy failed" : (props.label ?? "Copy")}
    </button>
  )
}
