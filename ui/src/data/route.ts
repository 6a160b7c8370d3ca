/**
 * Hash routes, so that the static server needs nothing and a link in an
 * email (`<dashboard>/#/doc/<id>`) opens the drawer on that document:
 * `#/` the dashboard, `#/doc/<id>` the dashboard with the drawer open,
 * `#/run/<id>` the drawer of that run's document with that attempt picked,
 * `#/help` and `#/help/<topic>` the help pages.
 */
import { createRoot, createSignal } from "solid-js"

export type Route =
  | { readonly page: "dashboard"; readonly doc: string | undefined; readonly run: number | undefined }
  | { readonly page: "help"; readonly topic: string | undefined }

const decode = (part: string): string => {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

export const parseRoute = (hash: string): Route => {
  const parts = hash.replace(/^#\/?/, "").split("/").filter((p) => p !== "")
  const [first, second] = parts
  if (first === "help") return { page: "help", topic: second }
  if (first === "doc" && second !== undefined) return { page: "dashboard", doc: decode(second), run: undefined }
  if (first === "run" && second !== undefined) {
    // Not a number: the drawer says so in a sentence rather than silently showing nothing.
    const run = /^\d{1,15}$/.test(second) ? Number(second) : Number.NaN
    return { page: "dashboard", doc: undefined, run }
  }
  return { page: "dashboard", doc: undefined, run: undefined }
}

export const route = createRoot(() => {
  const [current, setCurrent] = createSignal(parseRoute(location.hash))
  window.addEventListener("hashchange", () => setCurrent(parseRoute(location.hash)))
  return current
})

export const hrefDoc = (doc: string) => `#/doc/${encodeURIComponent(doc)}`
export const hrefRun = (run: number) => `#/run/${run}`
export const openDoc = (doc: string) => {
  location.hash = hrefDoc(doc)
}
export const openRun = (run: number) => {
  location.hash = hrefRun(run)
}
export const closeDoc = () => {
  location.hash = "#/"
}
export const openHelp = (topic?: string) => {
  location.hash = topic === undefined ? "#/help" : `#/help/${topic}`
}
