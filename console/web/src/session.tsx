// Who is signed in: the token (memory only, see api.ts), the user it belongs to and the
// workgroup being worked in.
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { api, onTokenChange, currentToken, setToken } from "./api";

export interface Me {
  user: { id: number; name: string; displayName: string; platformAdmin: boolean };
  workgroups: { workgroup: string; role: "viewer" | "developer" | "admin" | string }[];
}

interface Session {
  token: string | null;
  me: Me | null;
  /** Workgroups the user works in: their memberships, or every one for a platform admin. */
  workgroups: string[];
  /** Reads `me` and the workgroups again (after creating a workgroup, say). */
  refresh: () => Promise<void>;
  signIn: (token: string) => Promise<void>;
  signOut: () => void;
}

const SessionContext = createContext<Session>({ token: null, me: null, workgroups: [], refresh: async () => {}, signIn: async () => {}, signOut: () => {} });

async function whoIs(token: string): Promise<[Me, string[]]> {
  const [who, all] = await Promise.all([
    api<Me>("GET", "/me", undefined, { token }),
    api<{ items: { name: string }[] }>("GET", "/workgroups?pageSize=500", undefined, { token }),
  ]);
  return [who, all.items.map((w) => w.name)];
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setLocal] = useState<string | null>(currentToken());
  const [me, setMe] = useState<Me | null>(null);
  const [workgroups, setWorkgroups] = useState<string[]>([]);
  useEffect(() => onTokenChange(() => {
    setLocal(currentToken());
    if (!currentToken()) setMe(null);
  }), []);
  const signIn = async (value: string) => {
    const [who, names] = await whoIs(value);
    setMe(who);
    setWorkgroups(names);
    setToken(value);
  };
  const refresh = async () => {
    if (token) await signIn(token);
  };
  return <SessionContext.Provider value={{ token, me, workgroups, refresh, signIn, signOut: () => setToken(null) }}>{children}</SessionContext.Provider>;
}

export const useSession = () => useContext(SessionContext);
