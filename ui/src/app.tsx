/** Signed out: the sign-in page. Signed in: live data for the dashboard or the help pages. */
import { Match, Switch } from "solid-js"
import { DashboardProvider } from "./data/dashboard.tsx"
import { EventProvider } from "./data/events.tsx"
import { NoticeProvider } from "./data/notices.tsx"
import { route } from "./data/route.ts"
import { SessionProvider, useSession } from "./data/session.tsx"
import { DashboardPage } from "./pages/dashboard/index.tsx"
import { HelpPage } from "./pages/help.tsx"
import { Notices } from "./pages/notices.tsx"
import { SignInPage } from "./pages/sign-in.tsx"

const Gate = () => {
  const session = useSession()
  return (
    <Switch fallback={<p class="boot">Checking your session…</p>}>
      <Match when={session.checked && session.info === undefined}>
        <SignInPage />
      </Match>
      <Match when={session.checked && session.info !== undefined}>
        <EventProvider>
          <DashboardProvider>
            <Switch>
              <Match when={route().page === "help"}>
                <HelpPage />
              </Match>
              <Match when={route().page === "dashboard"}>
                <DashboardPage />
              </Match>
            </Switch>
          </DashboardProvider>
        </EventProvider>
      </Match>
    </Switch>
  )
}

export const App = () => (
  <SessionProvider>
    <NoticeProvider>
      <Gate />
      <Notices />
    </NoticeProvider>
  </SessionProvider>
)
