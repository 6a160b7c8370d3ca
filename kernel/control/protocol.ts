/** The kernel<->dashboard control protocol (schemas/control.ts) on kernel/ipc framing, and where its socket lives. */
import { join } from "node:path"
import { CONTROL_SOCKET, ControlEvent, ControlRequest } from "../../schemas/control.ts"
import { defineProtocol } from "../ipc/protocol.ts"

export const ControlProtocol = defineProtocol(ControlRequest, ControlEvent)

/** Both processes read the same config file: the socket is found from its data directory. */
export const controlSocketPath = (dataDir: string) => join(dataDir, CONTROL_SOCKET)
