/**
 * A keyset-paged list (jobs, command log, notifications): newest first,
 * "load more" follows `nextCursor`. A refetch reloads as many rows as are
 * on screen, so a change anywhere in what the operator has loaded shows up,
 * and reconciles them by id so unchanged rows are left alone.
 */
import { batch, createSignal } from "solid-js"
import { createStore, reconcile } from "solid-js/store"
import type { Outcome } from "./client.ts"
import { coalesced } from "./coalesce.ts"

export interface Page<T> {
  readonly items: ReadonlyArray<T>
  readonly nextCursor: number | null
}

export interface Paged<T> {
  readonly items: ReadonlyArray<T>
  readonly hasMore: boolean
  readonly loaded: boolean
  readonly loading: boolean
  readonly error: string | undefined
  /** Start over (the filter changed). */
  readonly reset: () => Promise<void>
  readonly loadMore: () => Promise<void>
  /** Reload what is loaded; coalesced with other requests in the next `delay` ms. */
  readonly schedule: (delay?: number) => void
}

const MAX_LIMIT = 200

export const createPaged = <T extends { readonly id: number }>(
  fetchPage: (cursor: number | undefined, limit: number) => Promise<Outcome<Page<T>>>,
  options: { readonly pageSize?: number; readonly lazy?: boolean } = {}
): Paged<T> => {
  const pageSize = options.pageSize ?? 50
  const [store, setStore] = createStore<{ items: Array<T> }>({ items: [] })
  const [nextCursor, setNextCursor] = createSignal<number | null>(null)
  const [loaded, setLoaded] = createSignal(false)
  const [loading, setLoading] = createSignal(false)
  const [error, setError] = createSignal<string>()
  let generation = 0
  let busy: Promise<void> | undefined
  let again = false

  /** Up to `want` rows from the top, in pages of at most MAX_LIMIT. */
  const loadTop = async (want: number): Promise<Outcome<Page<T>>> => {
    const items: Array<T> = []
    let cursor: number | undefined
    for (;;) {
      const page = await fetchPage(cursor, Math.min(MAX_LIMIT, Math.max(1, want - items.length)))
      if (!page.ok) return page
      items.push(...page.value.items)
      if (page.value.nextCursor === null || items.length >= want) {
        return { ok: true, value: { items, nextCursor: page.value.nextCursor } }
      }
      cursor = page.value.nextCursor
    }
  }

  const apply = (page: Outcome<Page<T>>, mine: number, append: boolean) => {
    if (mine !== generation) return
    batch(() => {
      setLoading(false)
      if (!page.ok) {
        setError(page.message)
        return
      }
      setError(undefined)
      setLoaded(true)
      setNextCursor(page.value.nextCursor)
      const items = append ? [...store.items, ...page.value.items] : [...page.value.items]
      setStore("items", reconcile(items, { key: "id", merge: true }))
    })
  }

  const reload = (): Promise<void> => {
    if (busy !== undefined) {
      again = true
      return busy
    }
    busy = (async () => {
      try {
        do {
          again = false
          const mine = generation
          setLoading(true)
          apply(await loadTop(Math.max(pageSize, store.items.length)), mine, false)
        } while (again)
      } finally {
        busy = undefined
      }
    })()
    return busy
  }

  const reset = async () => {
    generation++
    batch(() => {
      setStore("items", [])
      setNextCursor(null)
      setLoaded(false)
    })
    const mine = generation
    setLoading(true)
    apply(await loadTop(pageSize), mine, false)
  }

  const loadMore = async () => {
    const cursor = nextCursor()
    if (cursor === null) return
    const mine = generation
    setLoading(true)
    apply(await fetchPage(cursor, pageSize), mine, true)
  }

  const schedule = coalesced(() => void reload(), 150)

  if (options.lazy !== true) void reset()

  return {
    get items() {
      return store.items
    },
    get hasMore() {
      return nextCursor() !== null
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
    reset,
    loadMore,
    schedule
  }
}
