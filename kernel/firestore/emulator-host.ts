/**
 * The emulator-host file: how a CLI finds the embedded emulator of a running
 * allocator. Two lines, `<host:port>` then `<projectId>`, so a shell can use
 * `FIRESTORE_EMULATOR_HOST=$(head -n1 .data/emulator-host)`.
 */
import { join } from "node:path"

export const EMULATOR_HOST_FILE = "emulator-host"

export const emulatorHostFile = (dataDir: string): string => join(dataDir, EMULATOR_HOST_FILE)

export const formatEmulatorHost = (host: string, projectId: string): string => `${host}\n${projectId}\n`

export const parseEmulatorHost = (text: string): { readonly host: string; readonly projectId: string } | undefined => {
  const [host, projectId] = text.split("\n").map((line) => line.trim())
  return host === undefined || host === "" || projectId === undefined || projectId === "" ? undefined : { host, projectId }
}
