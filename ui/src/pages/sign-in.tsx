/** Sign-in: user name and password; the server sets the session cookie. */
import { createSignal, Show } from "solid-js"
import { useSession } from "../data/session.tsx"

export const SignInPage = () => {
  const session = useSession()
  const [name, setName] = createSignal("")
  const [password, setPassword] = createSignal("")
  const [busy, setBusy] = createSignal(false)

  const submit = async (e: SubmitEvent) => {
    e.preventDefault()
    setBusy(true)
    const ok = await session.signIn(name().trim(), password())
    setBusy(false)
    if (ok) setPassword("")
  }

  return (
    <main class="sign-in">
      <form class="sign-in-card" onSubmit={(e) => void submit(e)}>
        <h1>Lomi allocator</h1>
        <p class="muted">Sign in to watch and steer the pipeline queue.</p>
        <label>
          User name
          <input
            name="username"
            autocomplete="username"
            value={name()}
            onInput={(e) => setName(e.currentTarget.value)}
            required
            autofocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password()}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        <Show when={session.notice}>
          <p class="form-notice" role="alert">
            {session.notice}
          </p>
        </Show>
        <button type="submit" class="button button-primary" disabled={busy()}>
          {busy() ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  )
}
