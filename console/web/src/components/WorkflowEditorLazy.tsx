// The workflow graph editor loads (with React Flow) only when a workflow is opened.
import { lazy, Suspense } from "react";
import { Loader } from "@mantine/core";
import type { ApiError } from "../api";
import type { Definition } from "../types";

const WorkflowEditor = lazy(() => import("./WorkflowEditor"));

export function WorkflowEditorLazy(props: { wg: string; definition: Definition; onChange: (d: Definition) => void; problem?: ApiError }) {
  return (
    <Suspense fallback={<Loader role="status" aria-label="loading" />}>
      <WorkflowEditor {...props} />
    </Suspense>
  );
}
