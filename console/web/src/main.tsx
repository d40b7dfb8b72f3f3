import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { MantineProvider, createTheme } from "@mantine/core";
import { setNonce } from "get-nonce";
import { Notifications } from "@mantine/notifications";
import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "./console.css";
import { App } from "./App";
import { LanguageProvider } from "./i18n";
import { SessionProvider } from "./session";

// Shade 8 and automatic text colour keep filled controls at WCAG AA contrast.
const theme = createTheme({ primaryColor: "indigo", primaryShade: 8, autoContrast: true, luminanceThreshold: 0.2, defaultRadius: "sm" });

/** The nonce the page's policy allows `<style>` elements with (set by the server). */
export const styleNonce = document.querySelector<HTMLMetaElement>('meta[name="sluice-style-nonce"]')?.content ?? "";
// Modals lock scrolling with a <style> element of their own (react-remove-scroll).
setNonce(styleNonce);

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      {/* Mantine's run-time <style> elements carry the page's nonce; nothing else inline applies. */}
      <MantineProvider theme={theme} getStyleNonce={() => styleNonce}>
        <Notifications position="top-right" />
        <LanguageProvider>
          <SessionProvider>
            <BrowserRouter basename="/console">
              <App />
            </BrowserRouter>
          </SessionProvider>
        </LanguageProvider>
      </MantineProvider>
    </StrictMode>,
  );
}
