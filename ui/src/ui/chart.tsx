/**
 * Small inline-SVG charts: stacked bars and lines over labelled x points.
 * Clicking a legend entry hides or shows that series (the scale follows
 * what is shown).
 */
import { createMemo, createSignal, For, Index, type JSX, Show } from "solid-js"

export interface Series {
  readonly name: string
  readonly color: string
  readonly values: ReadonlyArray<number>
}

export interface ChartProps {
  readonly title: string
  readonly labels: ReadonlyArray<string>
  readonly series: ReadonlyArray<Series>
  readonly kind: "stacked" | "line" | "grouped"
  readonly format?: (n: number) => string
  /** Counts: ticks on whole numbers only. */
  readonly integer?: boolean
  readonly testId?: string
}

const W = 520
const H = 200
const PAD = { left: 44, right: 8, top: 10, bottom: 34 }
const plotW = W - PAD.left - PAD.right
const plotH = H - PAD.top - PAD.bottom

/** A round upper bound for the axis. */
const niceMax = (max: number) => {
  if (max <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  const step = [1, 2, 2.5, 5, 10].find((s) => s * power >= max) ?? 10
  return step * power
}

export const Chart = (props: ChartProps) => {
  const [hidden, setHidden] = createSignal<ReadonlySet<string>>(new Set())
  const toggle = (name: string) =>
    setHidden((set) => {
      const next = new Set(set)
      if (next.has(name)) next.delete(name)
      else next.add(name)
      return next
    })
  const shown = createMemo(() => props.series.filter((s) => !hidden().has(s.name)))
  const fmt = (n: number) => (props.format ?? ((v: number) => String(Math.round(v * 10) / 10)))(n)

  const ticks = createMemo((): ReadonlyArray<number> => {
    const values = props.labels.map((_, i) =>
      props.kind === "stacked"
        ? shown().reduce((sum, s) => sum + (s.values[i] ?? 0), 0)
        : Math.max(0, ...shown().map((s) => s.values[i] ?? 0))
    )
    const top = Math.max(0, ...values)
    if (props.integer !== true) {
      const m = niceMax(top)
      return [0, 0.25, 0.5, 0.75, 1].map((f) => m * f)
    }
    const m = Math.max(1, Math.ceil(top))
    const step = m <= 5 ? 1 : Math.ceil(niceMax(m / 4))
    const out: Array<number> = []
    for (let t = 0; out.length === 0 || (out[out.length - 1] ?? 0) < m; t += step) out.push(t)
    return out
  })
  const max = () => ticks()[ticks().length - 1] ?? 1
  const n = () => Math.max(1, props.labels.length)
  const slot = () => plotW / n()
  const y = (v: number) => PAD.top + plotH - (v / max()) * plotH
  const x = (i: number) => PAD.left + slot() * i + slot() / 2
  /** Show only as many x labels as fit side by side (about 6 px per character at this size). */
  const labelEvery = () => {
    const longest = Math.max(1, ...props.labels.map((l) => l.length))
    const fit = Math.max(1, Math.floor(plotW / (longest * 6 + 10)))
    return Math.max(1, Math.ceil(n() / fit))
  }

  const bars = (): Array<JSX.Element> => {
    const out: Array<JSX.Element> = []
    props.labels.forEach((label, i) => {
      if (props.kind === "stacked") {
        let base = 0
        for (const s of shown()) {
          const v = s.values[i] ?? 0
          if (v <= 0) continue
          const top = y(base + v)
          out.push(
            <rect x={x(i) - slot() * 0.35} width={slot() * 0.7} y={top} height={y(base) - top} fill={s.color}>
              <title>{`${label} · ${s.name}: ${fmt(v)}`}</title>
            </rect>
          )
          base += v
        }
      } else {
        const group = shown()
        const width = (slot() * 0.8) / Math.max(1, group.length)
        group.forEach((s, j) => {
          const v = s.values[i] ?? 0
          out.push(
            <rect x={x(i) - slot() * 0.4 + j * width} width={Math.max(1, width - 1)} y={y(v)} height={y(0) - y(v)} fill={s.color}>
              <title>{`${label} · ${s.name}: ${fmt(v)}`}</title>
            </rect>
          )
        })
      }
    })
    return out
  }

  return (
    <figure class="chart" data-testid={props.testId}>
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        <Index each={ticks()}>
          {(tick) => (
            <g>
              <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(tick())} y2={y(tick())} />
              <text class="axis" x={PAD.left - 6} y={y(tick()) + 4} text-anchor="end">
                {fmt(tick())}
              </text>
            </g>
          )}
        </Index>
        <Show when={props.kind === "line"} fallback={<g>{bars()}</g>}>
          <For each={shown()}>
            {(s) => (
              <g>
                <polyline
                  fill="none"
                  stroke={s.color}
                  stroke-width="2"
                  points={props.labels.map((_, i) => `${x(i)},${y(s.values[i] ?? 0)}`).join(" ")}
                />
                <Index each={props.labels}>
                  {(label, i) => (
                    <circle cx={x(i)} cy={y(s.values[i] ?? 0)} r="2.5" fill={s.color}>
                      <title>{`${label()} · ${s.name}: ${fmt(s.values[i] ?? 0)}`}</title>
                    </circle>
                  )}
                </Index>
              </g>
            )}
          </For>
        </Show>
        <Index each={props.labels}>
          {(label, i) => (
            <Show when={i % labelEvery() === 0}>
              <text class="axis" x={x(i)} y={H - PAD.bottom + 16} text-anchor="middle">
                {label()}
              </text>
            </Show>
          )}
        </Index>
      </svg>
      <ul class="legend">
        <For each={props.series}>
          {(s) => (
            <li>
              <button
                type="button"
                classList={{ off: hidden().has(s.name) }}
                onClick={() => toggle(s.name)}
                title={hidden().has(s.name) ? "Show this series" : "Hide this series"}
              >
                <span class="swatch" style={{ background: s.color }} />
                {s.name}
              </button>
            </li>
          )}
        </For>
      </ul>
    </figure>
  )
}
