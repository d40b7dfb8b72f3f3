// English and Simplified Chinese. Every key has both; the type check fails otherwise.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { en } from "./locales/en";
import { zh } from "./locales/zh-CN";

export type Language = "en" | "zh-CN";
export type MessageKey = keyof typeof en;

const dictionaries: Record<Language, Record<MessageKey, string>> = { en, "zh-CN": zh };
const STORAGE = "sluice.language";

function initial(): Language {
  const saved = localStorage.getItem(STORAGE);
  if (saved === "en" || saved === "zh-CN") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** The language in force, for messages shown outside React's tree (notifications). */
let current: Language = "en";

/** The language in force (for dates and numbers formatted outside hooks). */
export function currentLanguage(): Language {
  return current;
}

/** A message in the language in force, where no hook can be used. */
export function translate(key: MessageKey): string {
  return dictionaries[current][key] ?? en[key];
}

const LanguageContext = createContext<{ language: Language; setLanguage: (l: Language) => void }>({
  language: "en",
  setLanguage: () => {},
});

export function LanguageProvider({ children }: { children: ReactNode }) {
  const [language, set] = useState<Language>(initial);
  current = language;
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);
  const setLanguage = useCallback((l: Language) => {
    localStorage.setItem(STORAGE, l);
    set(l);
  }, []);
  return <LanguageContext.Provider value={{ language, setLanguage }}>{children}</LanguageContext.Provider>;
}

export const useLanguage = () => useContext(LanguageContext);

/** `t(key, {name})`: the message in the chosen language, `{name}` replaced. */
export function useT() {
  const { language } = useLanguage();
  return useCallback(
    (key: MessageKey, vars?: Record<string, string | number>) => {
      let text: string = dictionaries[language][key] ?? en[key] ?? key;
      if (vars) for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
      return text;
    },
    [language],
  );
}
