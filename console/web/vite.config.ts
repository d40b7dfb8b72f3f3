// Builds the console into dist/, which the sluice-console crate embeds (console/build.rs).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The first load must stay small: editors, the graph and charts load with their screens.
    chunkSizeWarningLimit: 700,
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  // `npx vite` serves the console from source against a running Sluice (SLUICE_ADMIN_URL).
  server: { proxy: { "/admin": process.env.SLUICE_ADMIN_URL ?? "http://127.0.0.1:8090" } },
});
