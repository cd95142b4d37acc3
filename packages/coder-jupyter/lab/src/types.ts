/**
 * The JSON shapes of the server extension's routes under `{base_url}coder/api/`
 * (the REST contract of issue 15; the Python side is coder_jupyter's routes).
 */

/** One phase of a workspace's start: queued, building, agent connecting, each script, ready. */
export interface IPhase {
  name: string;
  state: 'pending' | 'active' | 'done' | 'failed';
  started_at: string | null;
  ended_at: string | null;
  seconds: number | null;
}

/** A workspace as the panel shows it (built server-side from coder_client.progress_of). */
export interface IRow {
  id: string;
  name: string;
  owner_name: string;
  template_name: string;
  template_display_name: string;
  /** Coder's latest build status, e.g. "running", "stopped", "failed". */
  status: string;
  transition: string;
  /** coder_client's LifecycleKind value, e.g. "ready", "start_error", "building". */
  stage: string;
  stage_label: string;
  settled: boolean;
  failed: boolean;
  usable: boolean;
  deadline: string | null;
  max_deadline: string | null;
  dashboard_url: string;
  build_number: number;
  started_at: string | null;
  ready_at: string | null;
  startup_seconds: number | null;
  build_seconds: number | null;
  phases: IPhase[];
  error: string;
  outdated: boolean;
  /** Outdated, settled, and this Coder offers template updates (issue 13). */
  can_update: boolean;
  can_extend: boolean;
  updated_at: string;
}

export interface IRowsResponse {
  rows: IRow[];
  count: number;
}

export interface IRowResponse {
  row: IRow;
}

export interface IExtendPlan {
  deadline: string | null;
  capped: boolean;
  message: string;
}

export interface ILogs {
  build_log: string[];
  startup_log: string[];
  truncated: boolean;
}

/** One step of a start (build timings): a Terraform stage or resource, the agent connecting, a script. */
export interface ITimingStep {
  name: string;
  kind: 'provisioner' | 'connection' | 'script';
  stage: string;
  seconds: number;
  share: number;
  exit_code: number | null;
  status: string;
  failed: boolean;
  text: string;
}

/** Where the latest build's time went (`GET workspaces/{id}/timings`); available false before Coder 2.17. */
export interface ITimings {
  available: boolean;
  summary: string;
  total_seconds: number;
  steps: ITimingStep[];
}

/** A field-level problem, as Coder and our routes report it. */
export interface IValidation {
  field: string;
  detail: string;
}

/** The error body of every route. */
export interface IErrorBody {
  message: string;
  detail?: string | null;
  validations?: IValidation[];
  coder_status?: number | null;
}

export type FormKind =
  | 'text'
  | 'textarea'
  | 'number'
  | 'select'
  | 'radio'
  | 'checkbox'
  | 'multi-select'
  | 'tags';

/** coder_client.ParameterField as JSON: one rich parameter, ready for a form. */
export interface IParameterField {
  name: string;
  display_name: string;
  description: string;
  /** Coder's type: string, number, bool, list(string). */
  type: string;
  form: FormKind;
  /** [label, value] pairs. */
  options: [string, string][];
  default: string;
  required: boolean;
  mutable: boolean;
  ephemeral: boolean;
  min: number | null;
  max: number | null;
  regex: string | null;
  error: string | null;
  monotonic: string | null;
  /** Dynamic parameters: the current answer (Coder's string form) and why Coder refuses it. */
  value?: string | null;
  diagnostic?: string | null;
}

export interface ITemplate {
  id?: string;
  name: string;
  display_name?: string;
  description?: string;
  [key: string]: unknown;
}

/** A preset of a template (Coder v2.20+): parameter values it fixes. */
export interface IPreset {
  id: string;
  name: string;
  description: string;
  default: boolean;
  /** Coder keeps prebuilt workspaces of it: ready in seconds. */
  prebuilt: boolean;
  parameters: Record<string, string>;
}

export interface ITemplateForm {
  template: ITemplate;
  fields: IParameterField[];
  last_used: boolean;
  /** Dynamic parameters: evaluate again (`evaluateForm`) whenever an answer changes. */
  dynamic?: boolean;
  problems?: string[];
  /** presets: empty (or absent) when Coder has none */
  presets?: IPreset[];
}

export interface IPreferences {
  last_template: string | null;
}

/** What `POST workspaces` takes. */
export interface ICreateBody {
  name: string;
  template: string;
  parameters: Record<string, string>;
  ttl?: string | null;
  /** presets: the chosen preset's id */
  preset?: string;
}
