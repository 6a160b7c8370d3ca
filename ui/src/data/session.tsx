/**
 * Who is signed in. The session itself is an HttpOnly cookie the page cannot
 * read; what the page keeps is the answer of sign-in / who-am-I (user, role,
 * CSRF token). Any 401 from any request ends the session here too.
 */
import { createContext, createSignal, type JSX, onMount, useContext } from "solid-js"
import { type Role, roleAllows, type SessionInfo } from "../../../schemas/api.ts"
import { call, onUnauthorized, setCsrfToken } from "./client.ts"

export interface SessionApi {
  /** Undefined until the first who-am-I has answered. */
  readonly checked: boolean
  readonly info: SessionInfo | undefined
  readonly user: string
  readonly role: Role | undefined
  /** Why the last session ended (expired), or why sign-in failed. */
  readonly notice: string | undefined
  readonly can: (required: Role) => boolean
  /** Why the signed-in role may not do what `required` allows; undefined when it may. */
  readonly why: (required: Role) => string | undefined
  readonly signIn: (name: string, password: string) => Promise<boolean>
  readonly signOut: () => Promise<void>
}

const SessionContext = createContext<SessionApi>()

export const SessionProvider = (props: { readonly children: JSX.Element }) => {
  const [info, setInfo] = createSignal<SessionInfo>()
  const [checked, setChecked] = createSignal(false)
  const [notice, setNotice] = createSignal<string>()

  const adopt = (session: SessionInfo | undefined) => {
    setCsrfToken(session?.csrfToken ?? "")
    setInfo(session)
  }

  onUnauthorized(() => {
    if (info() !== undefined) setNotice("Your session has ended; sign in again.")
    adopt(undefined)
  })

  onMount(async () => {
    const who = await call((api) => api.session.whoAmI())
    adopt(who.ok ? who.value : undefined)
    setChecked(true)
  })

  const api: SessionApi = {
    get checked() {
      return checked()
    },
    get info() {
      return info()
    },
    get user() {
      return info()?.user ?? ""
    },
    get role() {
      return info()?.role
    },
    get notice() {
      return notice()
    },
    can: (required) => {
      const role = info()?.role
      return role !== undefined && roleAllows(role, required)
    },
    why: (required) => {
      const role = info()?.role
      if (role !== undefined && roleAllows(role, required)) return undefined
      return `Needs the ${required} role; you are signed in as ${role ?? "nobody"}.`
    },
    signIn: async (name, password) => {
      const result = await call((client) => client.session.signIn({ payload: { name, password } }))
      if (result.ok) {
        setNotice(undefined)
        adopt(result.value)
        return true
      }
      setNotice(result.message)
      return false
    },
    signOut: async () => {
      await call((client) => client.session.signOut())
      setNotice("Signed out.")
      adopt(undefined)
    }
  }

  return <SessionContext.Provider value={api}>{props.children}</SessionContext.Provider>
}

export const useSession = (): SessionApi => {
  const session = useContext(SessionContext)
  if (session === undefined) throw new Error("useSession outside SessionProvider")
  return session
}
