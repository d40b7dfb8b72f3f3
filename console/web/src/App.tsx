// The console's places. Heavy screens (editors, graph, charts) load when first opened.
import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { Center, Container, Loader } from "@mantine/core";
import { useSession } from "./session";
import { Shell } from "./Shell";
import { SignIn } from "./screens/SignIn";
import { ApiList } from "./screens/ApiList";
import { Home } from "./screens/Home";

const Workgroups = lazy(() => import("./screens/Workgroups"));
const Members = lazy(() => import("./screens/Members"));
const Datasources = lazy(() => import("./screens/Datasources"));
const Folders = lazy(() => import("./screens/Folders"));
const ApiNew = lazy(() => import("./screens/ApiNew"));
const ApiDetail = lazy(() => import("./screens/ApiDetail"));
const Apps = lazy(() => import("./screens/Apps"));
const AppDetail = lazy(() => import("./screens/AppDetail"));
const Marketplace = lazy(() => import("./screens/Marketplace"));
const MarketPage = lazy(() => import("./screens/MarketPage"));
const Approvals = lazy(() => import("./screens/Approvals"));
const Reports = lazy(() => import("./screens/Reports"));
const ManagementDocs = lazy(() => import("./screens/ManagementDocs"));
const Users = lazy(() => import("./screens/Users"));
const Platform = lazy(() => import("./screens/Platform"));
const WorkgroupSettings = lazy(() => import("./screens/WorkgroupSettings"));

function RequireSession({ children }: { children: ReactNode }) {
  const { token } = useSession();
  const location = useLocation();
  if (!token) return <Navigate to="/signin" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

const waiting = (
  <Center h={200}>
    <Loader role="status" aria-label="loading" />
  </Center>
);

function DocsPage() {
  const { token } = useSession();
  const page = (
    <Suspense fallback={waiting}>
      <ManagementDocs />
    </Suspense>
  );
  return token ? <Shell>{page}</Shell> : <Container size="lg" py="md" component="main">{page}</Container>;
}

export function App() {
  return (
    <Routes>
      <Route path="/signin" element={<SignIn />} />
      {/* The management API's document is public: readable before signing in. */}
      <Route path="/docs" element={<DocsPage />} />
      <Route
        path="*"
        element={
          <RequireSession>
            <Shell>
              <Suspense fallback={waiting}>
                <Routes>
                  <Route path="/" element={<Home />} />
                  <Route path="/workgroups" element={<Workgroups />} />
                  <Route path="/w/:wg/apis" element={<ApiList />} />
                  <Route path="/w/:wg/apis/new" element={<ApiNew />} />
                  <Route path="/w/:wg/apis/:id/*" element={<ApiDetail />} />
                  <Route path="/w/:wg/datasources" element={<Datasources />} />
                  <Route path="/w/:wg/folders" element={<Folders />} />
                  <Route path="/w/:wg/members" element={<Members />} />
                  <Route path="/w/:wg/apps" element={<Apps />} />
                  <Route path="/w/:wg/apps/:id" element={<AppDetail />} />
                  <Route path="/w/:wg/reports" element={<Reports />} />
                  <Route path="/w/:wg/settings" element={<WorkgroupSettings />} />
                  <Route path="/marketplace" element={<Marketplace />} />
                  <Route path="/marketplace/:id" element={<MarketPage />} />
                  <Route path="/approvals" element={<Approvals />} />
                  <Route path="/users" element={<Users />} />
                  <Route path="/platform" element={<Platform />} />
                  <Route path="*" element={<Home />} />
                </Routes>
              </Suspense>
            </Shell>
          </RequireSession>
        }
      />
    </Routes>
  );
}
