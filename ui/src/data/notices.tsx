/**
 * What the server said about each action: its own message, done or refused,
 * shown as a notice in the corner (and kept by the caller where it helps to
 * show it in place, e.g. in the drawer).
 */
import { createContext, type JSX, useContext } from "solid-js"
import { createStore, produce } from "solid-js/store"
import { call, type ApiClient, type Outcome } from "./client.ts"
import type { Effect } from "effect"

export interface Notice {
  readonly id: number
  readonly ok: boolean
  readonly title: string
  readonly message: string
}

/** A result as the operator reads it: the action's server answer, or why it never got one. */
export interface ActionResult {
  readonly ok: boolean
  readonly message: string
}

export interface Notices {
  readonly items: ReadonlyArray<Notice>
  readonly push: (title: string, result: ActionResult) => void
  readonly dismiss: (id: number) => void
  /**
   * Sends one command and reports its answer. `judge` reads success from the
   * body (a CommandResult's `ok`, a bulk result's `ok`).
   */
  readonly act: <A extends ActionResult, E>(
    title: string,
    request: (api: ApiClient) => Effect.Effect<A, E>
  ) => Promise<Outcome<A>>
}

const NoticeContext = createContext<Notices>()

const OK_MS = 6000
const REFUSED_MS = 15000

export const NoticeProvider = (props: { readonly children: JSX.Element }) => {
  const [items, setItems] = createStore<Array<Notice>>([])
  let next = 1

  const dismiss = (id: number) => setItems((list) => list.filter((n) => n.id !== id))

  const push = (title: string, result: ActionResult) => {
    const id = next++
    setItems(
      produce((list) => {
        list.push({ id, ok: result.ok, title, message: result.message })
        if (list.length > 6) list.shift()
      })
    )
    setTimeout(() => dismiss(id), result.ok ? OK_MS : REFUSED_MS)
  }

  const notices: Notices = {
    get items() {
      return items
    },
    push,
    dismiss,
    act: async (title, request) => {
      const outcome = await call(request)
      push(title, outcome.ok ? { ok: outcome.value.ok, message: outcome.value.message } : { ok: false, message: outcome.message })
      return outcome
    }
  }
  return <NoticeContext.Provider value={notices}>{props.children}</NoticeContext.Provider>
}

export const useNotices = (): Notices => {
  const notices = useContext(NoticeContext)
  if (notices === undefined) throw new Error("useNotices outside NoticeProvider")
  return notices
}
