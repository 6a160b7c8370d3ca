/**
 * The emulator's document state, with query listens that send changes only.
 *
 * Firestore answers a query listen with the matching documents once, then
 * with each document that enters, changes in or leaves the result. The
 * package's emulator instead re-sends every matching document, behind a
 * RESET, after every write anywhere in the database. With the allocator's
 * listen (`reports` where `status == "Data Ready"`) and a no-op pipeline that
 * leaves its report Data Ready, the n-th report of a burst made the client
 * decode n documents: a burst cost the kernel quadratic CPU and garbage that
 * a real Firestore never sends. Here the listen keeps the paths it has sent
 * and, once per event-loop turn with writes, re-runs the query and sends:
 * - a document change for each match that is new or was written since;
 * - a document remove for each earlier match that no longer matches;
 * - one NO_CHANGE with a read time, the consistent point at which the
 *   client raises its snapshot, as Firestore does.
 *
 * Listens on named documents are left to the package.
 */
import { FirestoreState, type FirestoreStateDocument, TimestampFromDate } from "@firestore-emulator/server"
import {
  type ListenRequest,
  ListenResponse,
  TargetChangeTargetChangeType
} from "@firestore-emulator/proto/dist/google/firestore/v1/firestore.js"

type Respond = (response: ListenResponse) => void
type OnEnd = (handler: () => void) => void

const WRITE_EVENTS = ["create-document", "update-document", "delete-document"] as const

export class DeltaListenState extends FirestoreState {
  readonly #now: () => Date

  /** `now` stamps read times, the same server clock that stamps commits. */
  constructor(now: () => Date) {
    super()
    this.#now = now
  }

  override v1Listen(listen: ListenRequest, respond: Respond, onEnd: OnEnd): void {
    if (!listen.has_add_target || !listen.add_target.has_query) return super.v1Listen(listen, respond, onEnd)
    const targetId = listen.add_target.target_id
    const { parent, structured_query } = listen.add_target.query
    const runQuery = () => this.v1Query(parent, structured_query)
    const readTime = () => TimestampFromDate(this.#now())
    const sendDocument = (document: FirestoreStateDocument) =>
      respond(ListenResponse.fromObject({ document_change: { document: document.toV1DocumentObject(), target_ids: [targetId] } }))
    const sendTargetChange = (type: TargetChangeTargetChangeType, targetIds: Array<number>) =>
      respond(ListenResponse.fromObject({ target_change: { target_change_type: type, target_ids: targetIds, read_time: readTime().toObject() } }))

    respond(ListenResponse.fromObject({ target_change: { target_change_type: TargetChangeTargetChangeType.ADD, target_ids: [targetId] } }))
    let sent = new Set<string>()
    for (const document of runQuery()) {
      sendDocument(document)
      sent.add(document.getPath())
    }
    sendTargetChange(TargetChangeTargetChangeType.CURRENT, [targetId])
    sendTargetChange(TargetChangeTargetChangeType.NO_CHANGE, [])

    let written = new Set<string>()
    let flushScheduled = false
    let ended = false
    const flush = () => {
      flushScheduled = false
      if (ended) return
      const writtenNow = written
      written = new Set()
      const matches = runQuery()
      const next = new Set<string>()
      let changes = 0
      for (const document of matches) {
        const path = document.getPath()
        next.add(path)
        if (!sent.has(path) || writtenNow.has(path)) {
          sendDocument(document)
          changes++
        }
      }
      for (const path of sent) {
        if (next.has(path)) continue
        respond(ListenResponse.fromObject({ document_remove: { document: path, removed_target_ids: [targetId], read_time: readTime().toObject() } }))
        changes++
      }
      sent = next
      if (changes > 0) sendTargetChange(TargetChangeTargetChangeType.NO_CHANGE, [])
    }
    const onWrite = ({ document }: { document: FirestoreStateDocument }) => {
      written.add(document.getPath())
      if (flushScheduled) return
      flushScheduled = true
      setImmediate(flush)
    }
    for (const event of WRITE_EVENTS) this.emitter.on(event, onWrite)
    onEnd(() => {
      ended = true
      for (const event of WRITE_EVENTS) this.emitter.off(event, onWrite)
    })
  }
}
