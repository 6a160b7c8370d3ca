/**
 * Hash routes, so that the static server needs nothing and a link in an
 * email (`<dashboard>/#/doc/<id>`) opens the drawer on that document:
 * `#/` the dashboard, `#/doc/<id>` the dashboard with the drawer open,
 * `#/help` and `#/help/<topic>` the help pages.
 */
import { createRoot, createSignal } from "solid-js"

export type Route =
  | { readonly page: "dashboard"; readonly doc: string | undefined }
  | { readonly page: "help"; readonly topic: string | undefined }

export const parseRoute = (hash: string): Route => {
  const parts = hash.replace(/^#\/?/, "").split("/").filter((p) => p !== "")
  const [first, second] = parts
  if (first === "help") return { page: "help", topic: second }
  if (first === "doc" && second !== undefined) return { page: "dashboard", doc: decodeURIComponent(second) }
  return { page: "dashboard", doc: undefined }
}

export const route = createRoot(() => {
  const [current, setCurrent] = createSignal(parseRoute(location.hash))
  window.addEventListener("hashchange", () => setCurrent(parseRoute(location.hash)))
  return current
})

export const hrefDoc = (doc: string) => `#/doc/${encodeURIComponent(doc)}`
export const openDoc = (doc: string) => {
  location.hash = hrefDoc(doc)
}
export const closeDoc = () => {
  location.hash = "#/"
}
export const openHelp = (topic?: string) => {
  location.hash = topic === undefined ? "#/help" : `#/help/${topic}`
}
