/**
 * A shared "now" for relative times on screen (due in…, running for…). It
 * only re-renders the page's own text; it never asks the server anything.
 */
import { createRoot, createSignal } from "solid-js"

const TICK_MS = 1000

export const now = createRoot(() => {
  const [time, setTime] = createSignal(Date.now())
  setInterval(() => setTime(Date.now()), TICK_MS)
  return time
})
