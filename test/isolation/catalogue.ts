/**
 * The attacks of the isolation suite, as bash snippets run by
 * fixtures/pipelines/test/snippet.sh inside a real sandbox ($2 is the
 * patient, $VICTIM another patient, $SECRETS host files it must not read).
 * Kept as data so the same list runs as root and as an unprivileged user.
 */
import type { RawExit } from "../../kernel/process/launch.ts"
import type { PipelineExit } from "../../kernel/ports/executor.ts"

export interface Attack {
  readonly name: string
  readonly runId: number
  readonly patient: string
  readonly victim?: string
  readonly service?: string
  /** Something an earlier, unsandboxed run left in the real tree. */
  readonly plant?: "symlink-folder" | "symlink-file" | "hardlink"
  /** `kill`: the snippet prints READY and waits; the run is SIGKILLed then. */
  readonly end?: "exit" | "kill"
  readonly snippet: string
}

export interface TreeHashes {
  readonly base: string
  readonly user: string
  readonly victimBase: string
  readonly victimUser: string
  readonly roots: string
}

export interface AttackReport {
  readonly name: string
  readonly prepareError?: string
  readonly raw?: RawExit
  readonly exit?: PipelineExit
  readonly finishIdempotent?: boolean
  readonly before: TreeHashes
  readonly during: TreeHashes | undefined
  readonly after: TreeHashes
  readonly log: string
  readonly facts: Record<string, string | number | boolean>
  readonly hostname: string
}

const P = '"$LOMI_BASE_DIR/$2"'
const editLarge = `f=${P}; printf X | dd of="$f/big.bin" bs=1 seek=100 conv=notrunc 2>/dev/null; truncate -s 1000 "$f/big2.bin"; chmod 000 "$f/big3.bin"; echo EDITED`

export const attacks: ReadonlyArray<Attack> = [
  {
    name: "write-other-patient",
    runId: 101,
    patient: "A101",
    victim: "B101",
    snippet: `echo mine > ${P}/new.txt; echo x > "$LOMI_BASE_DIR/$VICTIM/planted" || true; echo y >> "$LOMI_BASE_DIR/$VICTIM/big.bin" || true; mkdir -p "$LOMI_BASE_DIR/$VICTIM" "$LOMI_USER_DIR/$VICTIM"; echo x > "$LOMI_BASE_DIR/$VICTIM/planted"; echo z > "$LOMI_USER_DIR/$VICTIM/prior.json"; ls "$LOMI_BASE_DIR"; exit 0`
  },
  {
    name: "symlink-folder-at-commit",
    runId: 102,
    patient: "A102",
    victim: "B102",
    snippet: `ln -s "$LOMI_BASE_DIR/$VICTIM" "$LOMI_BASE_DIR/Q102"; echo mine > ${P}/new.txt; exit 0`
  },
  {
    name: "symlink-file-at-commit",
    runId: 103,
    patient: "A103",
    victim: "B103",
    snippet: `ln -s "$LOMI_BASE_DIR/$VICTIM/big.bin" ${P}/link; echo mine > ${P}/new.txt; exit 0`
  },
  {
    name: "symlink-folder-at-staging",
    runId: 104,
    patient: "A104",
    victim: "B104",
    plant: "symlink-folder",
    snippet: `echo pwn > ${P}/big.bin; exit 0`
  },
  {
    name: "symlink-file-at-staging",
    runId: 105,
    patient: "A105",
    victim: "B105",
    plant: "symlink-file",
    snippet: `head -c 4 ${P}/link && echo "READ through link" || echo "READ failed"; echo pwn > ${P}/link || echo "WRITE through link failed"; exit 0`
  },
  {
    name: "hardlink-at-staging",
    runId: 106,
    patient: "A106",
    victim: "B106",
    plant: "hardlink",
    snippet: `printf PWN | dd of=${P}/hl bs=1 seek=0 conv=notrunc 2>/dev/null; truncate -s 10 ${P}/hl; chmod 000 ${P}/hl; exit 0`
  },
  {
    name: "hardlink-at-commit",
    runId: 107,
    patient: "A107",
    snippet: `ln ${P}/big.bin ${P}/hl2 && echo LINKED; ln /etc/hostname ${P}/host 2>&1 || echo "CROSS link refused"; exit 0`
  },
  { name: "large-input-edit-then-kill", runId: 108, patient: "A108", end: "kill", snippet: `${editLarge}; echo READY; sleep 600` },
  { name: "large-input-edit-then-fail", runId: 109, patient: "A109", snippet: `${editLarge}; exit 3` },
  { name: "large-input-edit-then-succeed", runId: 110, patient: "A110", snippet: `${editLarge}; exit 0` },
  {
    name: "delete-and-rename",
    runId: 111,
    patient: "A111",
    snippet: `rm ${P}/sub/n.txt; mv ${P}/input.txt ${P}/renamed.txt; mv ${P}/dir1 ${P}/dir2; exit 0`
  },
  {
    name: "setuid-file",
    runId: 112,
    patient: "A112",
    snippet: `cp /bin/true ${P}/su && chmod 4755 ${P}/su && ls -l ${P}/su; exit 0`
  },
  {
    name: "device-and-fifo",
    runId: 113,
    patient: "A113",
    snippet: `mknod ${P}/null c 1 3 2>&1 || echo "MKNOD refused"; mkfifo ${P}/fifo && echo FIFO made; exit 0`
  },
  {
    name: "read-secrets",
    runId: 114,
    patient: "A114",
    victim: "B114",
    snippet: `for f in $SECRETS; do cat "$f" 2>&1 | head -c 200; echo; done; cat "$LOMI_USER_DIR/$VICTIM/prior.json" 2>&1; ls -a "$LOMI_BASE_DIR" "$LOMI_USER_DIR"; ls "$(dirname "$LOMI_BASE_DIR")" 2>&1; echo OWN LOG VISIBLE; exit 0`
  },
  {
    name: "proc-sys-write",
    runId: 115,
    patient: "A115",
    snippet: `echo lomi-pwned > /proc/sys/kernel/hostname 2>&1 && echo "SYSCTL written" || echo "SYSCTL refused"; echo 3 > /proc/sys/vm/drop_caches 2>&1 || echo "DROP refused"; exit 0`
  },
  {
    name: "fork-bomb",
    runId: 116,
    patient: "A116",
    service: "bomb",
    // dash, not bash: bash retries a refused fork for seconds before giving up.
    snippet: `exec sh -c 'i=0; while [ $i -lt 400 ]; do sleep 30 & i=$((i+1)); done; echo "SPAWNED $i"; exit 1' 2>&1`
  },
  {
    name: "disk-filler",
    runId: 117,
    patient: "A117",
    service: "filler",
    snippet: `dd if=/dev/zero of=${P}/fill bs=1M count=64 2>/dev/null; echo "DD rc=$?"; echo "FILL $(stat -c %s ${P}/fill)"; exit 1`
  },
  { name: "time-limit", runId: 118, patient: "A118", service: "slow", snippet: `echo mine > ${P}/new.txt; sleep 600` }
]
