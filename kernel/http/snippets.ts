/**
 * The Sysadmin tab: shell commands that need a terminal on the server,
 * rendered from this server's actual configuration so they can be copied
 * as they are.
 */
import { join } from "node:path"
import type { StaticConfig } from "../../schemas/config.ts"
import { databaseFile } from "../paths.ts"

/** The systemd unit the allocator runs as. */
export const SYSTEMD_UNIT = "lomi-allocator"

/** Single-quoted for a POSIX shell. */
export const shellQuote = (s: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

export interface SnippetView {
  readonly id: string
  readonly title: string
  readonly description: string
  readonly command: string
}

export const renderSnippets = (config: StaticConfig): ReadonlyArray<SnippetView> => {
  const db = shellQuote(databaseFile(config.dataDir))
  const logs = shellQuote(join(config.dataDir, "logs"))
  const host = config.http.host === "0.0.0.0" || config.http.host === "::" ? "127.0.0.1" : config.http.host
  const ready = `http://${host.includes(":") ? `[${host}]` : host}:${config.http.port}/readyz`
  const now = "strftime('%Y-%m-%dT%H:%M:%fZ')"
  return [
    {
      id: "restart",
      title: "Restart the allocator",
      description: "Running pipelines are interrupted; start-up recovery re-queues them (or fails them after MAX_RETRIES).",
      command: `sudo systemctl restart ${SYSTEMD_UNIT} && systemctl status ${SYSTEMD_UNIT} --no-pager`
    },
    {
      id: "logs",
      title: "Follow the allocator's own log",
      description: "The daemon's log (systemd journal).",
      command: `journalctl -u ${SYSTEMD_UNIT} -f --since "1 hour ago"`
    },
    {
      id: "run-logs",
      title: "Newest pipeline logs",
      description: "Every attempt keeps its own run.log.<attempt> under logs/<doc>/run-<id>/.",
      command: `find ${logs} -name 'run.log.*' -printf '%T@ %p\\n' | sort -n | tail -n 20 | cut -d' ' -f2-`
    },
    {
      id: "sandbox-off",
      title: "Turn the sandbox off (and restart)",
      description:
        "Sets SANDBOX_ENABLED=0 in the database, which wins over the LOMI_SANDBOX_ENABLED start-up default; MAX_WORKERS is then forced to 1.",
      command:
        `sqlite3 ${db} "INSERT INTO tunables (key, value, updated_at, updated_by) VALUES ('SANDBOX_ENABLED', 0, ${now}, 'sysadmin') ` +
        `ON CONFLICT (key) DO UPDATE SET value = 0, updated_at = excluded.updated_at, updated_by = 'sysadmin'" ` +
        `&& sudo systemctl restart ${SYSTEMD_UNIT}`
    },
    {
      id: "bwrap-check",
      title: "Check bubblewrap",
      description: "The sandbox needs bwrap; install with `sudo yum install bubblewrap` or `sudo apt install bubblewrap`.",
      command: `${shellQuote(config.sandbox.bwrapPath)} --version`
    },
    {
      id: "scratch-cleanup",
      title: "Remove stale sandbox scratch directories",
      description: "Only while the allocator is stopped; start-up also sweeps them.",
      command: `sudo systemctl stop ${SYSTEMD_UNIT} && rm -rf ${shellQuote(config.sandbox.scratchRoot)}/run-* && sudo systemctl start ${SYSTEMD_UNIT}`
    },
    {
      id: "backup",
      title: "Back up the database",
      description: "A consistent copy while the allocator runs (SQLite online backup).",
      command: `sqlite3 ${db} ".backup '${join(config.dataDir, "allocator-backup-$(date +%F).db").replace(/'/g, "")}'"`
    },
    {
      id: "ready",
      title: "Is it up?",
      description: "Database reachable, and whether Firestore is in outage.",
      command: `curl -fsS ${ready}`
    }
  ]
}
