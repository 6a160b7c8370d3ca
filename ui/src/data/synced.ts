/**
 * A server read kept in a store: fetched once, refetched when an event says
 * it changed, and reconciled into the store so that only the rows that
 * actually changed re-render (an open checkbox or scroll position survives).
 *
 * Refetches are coalesced: a burst of events within `delay` ms costs one
 * request, and a request asked for while one is in flight runs once after it.
 */
import { batch, createSignal } from "solid-js"
import { createStore, reconcile } from "solid-js/store"
import type { Outcome } from "./client.ts"
import { coalesced } from "./coalesce.ts"

export interface Synced<T> {
  readonly value: T
  readonly loaded: boolean
  readonly loading: boolean
  readonly error: string | undefined
  readonly refetch: () => Promise<void>
  /** Refetch soon, coalescing with other requests in the next `delay` ms. */
  readonly schedule: (delay?: number) => void
  /** Take a fresh value the server sent in answer to something else. */
  readonly set: (value: T) => void
}

export const createSynced = <T,>(
  fetcher: () => Promise<Outcome<T>>,
  initial: T,
  options: { readonly key?: string | null; readonly lazy?: boolean } = {}
): Synced<T> => {
  const [store, setStore] = createStore<{ value: T }>({ value: initial })
  const [loaded, setLoaded] = createSignal(false)
  const [loading, setLoading] = createSignal(false)
  const [error, setError] = createSignal<string>()
  const keyOf = options.key === undefined ? "id" : options.key
  let inFlight: Promise<void> | undefined
  let again = false

  const once = async () => {
    setLoading(true)
    const outcome = await fetcher()
    batch(() => {
      setLoading(false)
      if (outcome.ok) {
        setStore("value", reconcile(outcome.value, { key: keyOf, merge: true }))
        setLoaded(true)
        setError(undefined)
      } else {
        setError(outcome.message)
      }
    })
  }

  const refetch = (): Promise<void> => {
    if (inFlight !== undefined) {
      again = true
      return inFlight
    }
    inFlight = (async () => {
      try {
        do {
          again = false
          await once()
        } while (again)
      } finally {
        inFlight = undefined
      }
    })()
    return inFlight
  }

  const schedule = coalesced(() => void refetch(), 120)

  if (options.lazy !== true) void refetch()

  return {
    get value() {
      return store.value
    },
    get loaded() {
      return loaded()
    },
    get loading() {
      return loading()
    },
    get error() {
      return error()
    },
    refetch,
    schedule,
    set: (value) => {
      setStore("value", reconcile(value, { key: keyOf, merge: true }))
      setLoaded(true)
    }
  }
}
