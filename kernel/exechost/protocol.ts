/** The execution host's protocol on the generic IPC framing (schemas in schemas/exechost.ts). */
import { HostEvent, HostRequest } from "../../schemas/exechost.ts"
import { defineProtocol } from "../ipc/protocol.ts"

export const HostProtocol = defineProtocol(HostRequest, HostEvent)

/** `<dataDir>/exechost.sock` */
export const hostSocket = (dataDir: string) => `${dataDir.replace(/\/+$/, "")}/exechost.sock`
