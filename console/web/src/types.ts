// Shapes of the management API's answers that the console reads (see /admin/v1/openapi.json).
import { currentLanguage } from "./i18n";

export type Environment = "prod" | "test";
export type SecurityLevel = "L1" | "L2" | "L3" | "L4";
export const SECURITY_LEVELS: SecurityLevel[] = ["L1", "L2", "L3", "L4"];

export interface Publication {
  apiId: number;
  environment: Environment;
  version: number;
  publishedAt: number;
}

export interface ApiSummary {
  id: number;
  name: string;
  path: string;
  method: string;
  description: string;
  folderId: number | null;
  tags: string[];
  owner: string;
  maxQps: number | null;
  securityLevel: SecurityLevel;
  visibleRange: string;
  authMode: string;
  mode: string;
  datasourceId: number | null;
  publications: Publication[];
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  updatedBy: string;
}

export interface Folder {
  id: number;
  name: string;
  parentId: number | null;
  [k: string]: unknown;
}

export interface Datasource {
  id: number;
  name: string;
  kind: string;
  description: string;
  connection: Record<string, unknown>;
  [k: string]: unknown;
}

/** A time as people of the chosen language write it. */
export const when = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleString(currentLanguage()) : "");

export const OPERATORS = ["=", "!=", ">", "<", ">=", "<=", "LIKE", "NOT LIKE", "IN", "NOT IN"];
export const PARAM_TYPES = ["string", "int", "float", "decimal", "bool", "date", "datetime", "json", "array<string>", "array<int>", "identifier"];

export interface RequestParam {
  name: string;
  type: string;
  position?: string;
  column?: string | null;
  operator?: string;
  required?: boolean;
  default?: string | null;
  example?: string | null;
  description?: string;
  securityLevel?: SecurityLevel;
  allowedValues?: string[];
}

export interface ResponseField {
  name: string;
  column?: string | null;
  type: string;
  sort?: { direction: "asc" | "desc"; priority: number } | null;
  required?: boolean;
  example?: string | null;
  description?: string;
  securityLevel?: SecurityLevel;
}

/** A draft or version definition (`ApiDefinition`); mode-specific keys sit beside these. */
export interface Definition {
  mode: string;
  datasourceId?: number | null;
  table?: string;
  sql?: string;
  tables?: string[];
  requestParams?: RequestParam[];
  responseFields?: ResponseField[];
  options?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface ApiView extends Omit<ApiSummary, "mode" | "datasourceId"> {
  draft: Definition;
  workgroupId: number;
  [k: string]: unknown;
}

export interface TableInfo {
  name: string;
  kind: string;
}

export interface ColumnInfo {
  name: string;
  dbType: string;
  type: string;
  nullable: boolean;
  primaryKey: boolean;
}
