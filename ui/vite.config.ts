/**
 * Builds the dashboard into ui/dist, which the allocator's HTTP server serves
 * at `/`. `npx vite build --config ui/vite.config.ts` (or `make ui`).
 * `npx vite --config ui/vite.config.ts` serves it in development, proxying
 * the API to a running allocator (LOMI_API, default http://127.0.0.1:8080).
 */
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"
import solid from "vite-plugin-solid"

const root = fileURLToPath(new URL(".", import.meta.url))
const api = process.env.LOMI_API ?? "http://127.0.0.1:8080"

export default defineConfig({
  root,
  base: "/",
  plugins: [solid()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true
  },
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false },
      "/readyz": api
    }
  }
})
