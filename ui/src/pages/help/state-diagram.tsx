/**
 * The job state machine as a picture, drawn from the same literals as the
 * schema (schemas/job.ts): solid arrows are a row changing state, dashed ones
 * are a new row the allocator adds for the next try. Pure SVG in the bundle.
 */
import { For } from "solid-js"
import type { JobState } from "../../../../schemas/job.ts"

interface Node {
  readonly state: JobState
  readonly x: number
  readonly y: number
  readonly tone: "active" | "final" | "good" | "bad"
}

const W = 132
const H = 30

const NODES: ReadonlyArray<Node> = [
  { state: "received", x: 20, y: 24, tone: "active" },
  { state: "waiting_cooldown", x: 200, y: 24, tone: "active" },
  { state: "queued", x: 390, y: 24, tone: "active" },
  { state: "running", x: 580, y: 24, tone: "active" },
  { state: "succeeded", x: 20, y: 214, tone: "good" },
  { state: "failed_retrying", x: 176, y: 214, tone: "final" },
  { state: "temp_failed", x: 332, y: 214, tone: "final" },
  { state: "failed_sync", x: 488, y: 214, tone: "final" },
  { state: "failed_permanent", x: 644, y: 214, tone: "bad" }
]

interface Edge {
  readonly d: string
  readonly label: string
  readonly lx: number
  readonly ly: number
  readonly dashed?: boolean
}

const EDGES: ReadonlyArray<Edge> = [
  { d: "M152 39 L198 39", label: "hold", lx: 160, ly: 32 },
  { d: "M332 39 L388 39", label: "due", lx: 348, ly: 32 },
  { d: "M522 39 L578 39", label: "worker", lx: 530, ly: 32 },
  { d: "M86 54 Q 270 112 452 56", label: "no hold", lx: 250, ly: 100 },
  { d: "M646 54 L88 212", label: "exit 0", lx: 300, ly: 150 },
  { d: "M646 54 L244 212", label: "", lx: 0, ly: 0 },
  { d: "M646 54 L400 212", label: "", lx: 0, ly: 0 },
  { d: "M646 54 L556 212", label: "", lx: 0, ly: 0 },
  { d: "M646 54 L710 212", label: "last try, kill", lx: 684, ly: 140 },
  { d: "M236 212 Q 236 120 262 56", label: "next attempt", lx: 150, ly: 178, dashed: true },
  { d: "M392 212 Q 330 120 272 56", label: "same attempt", lx: 330, ly: 196, dashed: true },
  { d: "M548 212 Q 420 110 282 56", label: "attempt 1, later", lx: 470, ly: 196, dashed: true },
  { d: "M86 246 Q 400 312 710 246", label: "Mark failed for retry", lx: 340, ly: 292 }
]

export const StateDiagram = () => (
  <svg
    class="diagram"
    viewBox="0 0 800 310"
    role="img"
    aria-labelledby="state-diagram-title state-diagram-desc"
    data-testid="state-diagram"
  >
    <title id="state-diagram-title">Job states and how a row moves between them</title>
    <desc id="state-diagram-desc">
      A row starts received, then waits in cooldown or is queued at once; a queued row runs when a worker is free; a run
      ends succeeded, failed_retrying, temp_failed, failed_sync or failed_permanent. The three middle outcomes add a new
      waiting row for the next try. Mark failed for retry turns succeeded into failed_permanent.
    </desc>
    <defs>
      <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
        <path class="arrowhead" d="M0 0 L10 5 L0 10 z" />
      </marker>
    </defs>
    <For each={EDGES}>
      {(e) => (
        <>
          <path class="edge" d={e.d} marker-end="url(#arrow)" stroke-dasharray={e.dashed === true ? "5 4" : undefined} />
          <text class="edge-label" x={e.lx} y={e.ly}>
            {e.label}
          </text>
        </>
      )}
    </For>
    <For each={NODES}>
      {(n) => (
        <g class={`node ${n.tone}`} data-state={n.state}>
          <rect x={n.x} y={n.y} width={W} height={H} rx="6" />
          <text x={n.x + W / 2} y={n.y + 19} text-anchor="middle">
            {n.state}
          </text>
        </g>
      )}
    </For>
  </svg>
)
