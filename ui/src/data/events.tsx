/**
 * Live updates: one EventSource on the API's event stream, decoded against
 * AllocatorEvent, fanned out by tag. Nothing in the dashboard polls; views
 * refetch what an event says has changed.
 *
 * EventSource reconnects by itself after a dropped connection; a refused one
 * (401 after the session ended, a restart) closes it, and then it is reopened
 * here after a pause. Events sent while disconnected are lost, so every
 * (re)connection after the first tells subscribers to refetch everything.
 */
import { Either, Schema } from "effect"
import { createContext, createSignal, type JSX, onCleanup, useContext } from "solid-js"
import { AllocatorEvent } from "../../../schemas/events.ts"
import { call, endpointPath } from "./client.ts"

export type EventTag = AllocatorEvent["_tag"]
export type EventOf<T extends EventTag> = Extract<AllocatorEvent, { readonly _tag: T }>
export type LiveStatus = "connecting" | "live" | "reconnecting"

export interface EventBus {
  readonly status: LiveStatus
  /** Events received since the page loaded. */
  readonly received: number
  readonly on: <T extends EventTag>(tag: T, handler: (event: EventOf<T>) => void) => () => void
  /** After a reconnection: whatever happened meanwhile was missed. */
  readonly onResync: (handler: () => void) => () => void
}

const decode = Schema.decodeUnknownEither(Schema.parseJson(AllocatorEvent))
const hasTag = <T extends EventTag>(event: AllocatorEvent, tag: T): event is EventOf<T> => event._tag === tag
const REOPEN_MS = 3000

const EventContext = createContext<EventBus>()

export const EventProvider = (props: { readonly children: JSX.Element }) => {
  const [status, setStatus] = createSignal<LiveStatus>("connecting")
  const [received, setReceived] = createSignal(0)
  const handlers = new Set<(event: AllocatorEvent) => void>()
  const resyncs = new Set<() => void>()

  let source: EventSource | undefined
  let opened = false
  let reopen: ReturnType<typeof setTimeout> | undefined
  let disposed = false

  const subscribe = <H,>(set: Set<H>, handler: H) => {
    set.add(handler)
    return () => void set.delete(handler)
  }

  const connect = () => {
    if (disposed) return
    const es = new EventSource(endpointPath("live", "events"))
    source = es
    es.onopen = () => {
      setStatus("live")
      if (opened) for (const resync of resyncs) resync()
      opened = true
    }
    es.onmessage = (message: MessageEvent<string>) => {
      const event = decode(message.data)
      if (Either.isLeft(event)) return
      setReceived((n) => n + 1)
      for (const handler of handlers) handler(event.right)
    }
    es.onerror = () => {
      setStatus("reconnecting")
      if (es.readyState !== EventSource.CLOSED) return
      // Refused, not dropped: find out whether the session is gone (call() signs out on 401).
      void call((api) => api.session.whoAmI())
      reopen = setTimeout(connect, REOPEN_MS)
    }
  }
  connect()

  onCleanup(() => {
    disposed = true
    if (reopen !== undefined) clearTimeout(reopen)
    source?.close()
  })

  const bus: EventBus = {
    get status() {
      return status()
    },
    get received() {
      return received()
    },
    on: (tag, handler) =>
      subscribe(handlers, (event: AllocatorEvent) => {
        if (hasTag(event, tag)) handler(event)
      }),
    onResync: (handler) => subscribe(resyncs, handler)
  }

  return <EventContext.Provider value={bus}>{props.children}</EventContext.Provider>
}

export const useEvents = (): EventBus => {
  const bus = useContext(EventContext)
  if (bus === undefined) throw new Error("useEvents outside EventProvider")
  return bus
}
