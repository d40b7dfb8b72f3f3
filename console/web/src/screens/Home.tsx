import { Navigate } from "react-router";
import { useSession } from "../session";

/** The first workgroup's APIs, or the workgroup list for someone in none. */
export function Home() {
  const { workgroups } = useSession();
  const first = workgroups[0];
  return <Navigate to={first ? `/w/${encodeURIComponent(first)}/apis` : "/workgroups"} replace />;
}
