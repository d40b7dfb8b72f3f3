// CodeMirror 6 for SQL and Python. Loaded with the screens that edit code, never on first load.
import { useEffect, useRef } from "react";
import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { sql } from "@codemirror/lang-sql";
import { python } from "@codemirror/lang-python";

export default function CodeEditor({ value, onChange, language, label, minHeight = 160 }: { value: string; onChange: (v: string) => void; language: "sql" | "python"; label: string; minHeight?: number }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  useEffect(() => {
    if (!host.current) return;
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          language === "sql" ? sql() : python(),
          EditorView.lineWrapping,
          EditorView.cspNonce.of(document.querySelector<HTMLMetaElement>('meta[name="sluice-style-nonce"]')?.content ?? ""),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.theme({ "&": { minHeight: `${minHeight}px` }, ".cm-scroller": { minHeight: `${minHeight}px` } }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = editor;
    return () => editor.destroy();
    // The editor is made once; outside changes are applied below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language]);
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
    }
  }, [value]);
  return <div ref={host} className="sluice-editor" data-testid={`editor-${language}`} />;
}
