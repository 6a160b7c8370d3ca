/**
 * A burst of events should cost one refetch: the first call arms a timer,
 * calls while it is armed do nothing, and the owner's cleanup disarms it.
 */
import { onCleanup } from "solid-js"

export const coalesced = (run: () => void, defaultDelay: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined
  onCleanup(() => {
    if (timer !== undefined) clearTimeout(timer)
  })
  return (delay = defaultDelay) => {
    if (timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      run()
    }, delay)
  }
}
