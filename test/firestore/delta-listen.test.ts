/**
 * The embedded emulator's query listen, message by message, as Firestore
 * sends it: the matches once, then only what entered, changed or left.
 * (The package's own listen re-sent every match after every write anywhere.)
 */
import { describe, expect, it } from "vitest"
import {
  ListenRequest,
  type ListenResponse
} from "@firestore-emulator/proto/dist/google/firestore/v1/firestore.js"
import { StructuredQueryFieldFilterOperator } from "@firestore-emulator/proto/dist/google/firestore/v1/query.js"
import { Write } from "@firestore-emulator/proto/dist/google/firestore/v1/write.js"
import { DeltaListenState } from "../../kernel/firestore/delta-listen.ts"

const ROOT = "projects/lomi-test/databases/(default)/documents"
const TARGET = 7

const dataReadyListen = ListenRequest.fromObject({
  database: "projects/lomi-test/databases/(default)",
  add_target: {
    target_id: TARGET,
    query: {
      parent: ROOT,
      structured_query: {
        from: [{ collection_id: "reports" }],
        where: {
          field_filter: {
            field: { field_path: "status" },
            op: StructuredQueryFieldFilterOperator.EQUAL,
            value: { string_value: "Data Ready" }
          }
        }
      }
    }
  }
})

/** One line per message: what kind, and which document or target change. */
const describeResponse = (response: ListenResponse): string => {
  if (response.has_document_change) return `change ${response.document_change.document.name.slice(ROOT.length + 1)}`
  if (response.has_document_remove) return `remove ${response.document_remove.document.slice(ROOT.length + 1)}`
  if (response.has_document_delete) return `delete ${response.document_delete.document.slice(ROOT.length + 1)}`
  if (response.has_target_change) return `target ${response.target_change.target_change_type} [${response.target_change.target_ids.join(",")}]`
  return "other"
}

const setStatus = (state: DeltaListenState, path: string, status: string) =>
  state.writeV1Document(new Date(), Write.fromObject({ update: { name: `${ROOT}/${path}`, fields: { status: { string_value: status } } } }))

const deleteDocument = (state: DeltaListenState, path: string) =>
  state.writeV1Document(new Date(), Write.fromObject({ delete: `${ROOT}/${path}` }))

/** The listen flushes once per event-loop turn; a turn after the writes has seen them. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))

const listening = () => {
  const state = new DeltaListenState(() => new Date())
  setStatus(state, "reports/r1", "Data Ready")
  setStatus(state, "reports/r2", "Data Ready")
  setStatus(state, "reports/r3", "Processing")
  const received: Array<string> = []
  const endHandlers: Array<() => void> = []
  state.v1Listen(dataReadyListen, (response) => received.push(describeResponse(response)), (handler) => endHandlers.push(handler))
  const take = () => received.splice(0, received.length)
  const end = () => endHandlers.forEach((handler) => handler())
  return { state, take, end }
}

// TargetChangeType: NO_CHANGE 0, ADD 1, REMOVE 2, CURRENT 3, RESET 4.
describe("embedded emulator query listen", () => {
  it("sends the matches, then CURRENT and a consistent point", () => {
    const { take } = listening()
    expect(take()).toEqual(["target 1 [7]", "change reports/r1", "change reports/r2", "target 3 [7]", "target 0 []"])
  })

  it("sends nothing for a write that neither matches nor leaves a match", async () => {
    const { state, take } = listening()
    take()
    setStatus(state, "reports/r3", "Completed")
    setStatus(state, "patients/p1", "Data Ready")
    await nextTurn()
    expect(take()).toEqual([])
  })

  it("sends only the document written when a match changes, or a new one enters", async () => {
    const { state, take } = listening()
    take()
    setStatus(state, "reports/r2", "Data Ready")
    await nextTurn()
    expect(take()).toEqual(["change reports/r2", "target 0 []"])
    setStatus(state, "reports/r3", "Data Ready")
    await nextTurn()
    expect(take()).toEqual(["change reports/r3", "target 0 []"])
  })

  it("removes a document that stops matching or is deleted", async () => {
    const { state, take } = listening()
    take()
    setStatus(state, "reports/r1", "Failed")
    await nextTurn()
    expect(take()).toEqual(["remove reports/r1", "target 0 []"])
    deleteDocument(state, "reports/r2")
    await nextTurn()
    expect(take()).toEqual(["remove reports/r2", "target 0 []"])
  })

  it("answers writes of one turn with one consistent point", async () => {
    const { state, take } = listening()
    take()
    setStatus(state, "reports/r4", "Data Ready")
    setStatus(state, "reports/r5", "Data Ready")
    setStatus(state, "reports/r1", "Processing")
    await nextTurn()
    expect(take()).toEqual(["change reports/r4", "change reports/r5", "remove reports/r1", "target 0 []"])
  })

  it("stops sending once the listen has ended", async () => {
    const { state, take, end } = listening()
    take()
    end()
    setStatus(state, "reports/r9", "Data Ready")
    await nextTurn()
    expect(take()).toEqual([])
  })
})
