/**
 * Calls to the server extension (`{base_url}coder/api/...`) through JupyterLab's ServerConnection,
 * which carries the server's auth and XSRF token.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  ICreateBody,
  IErrorBody,
  IExtendPlan,
  ILogs,
  IPreferences,
  IRow,
  IRowResponse,
  IRowsResponse,
  ITemplate,
  ITemplateForm,
  ITimings
} from './types';

/** A route's error answer, with the body's message, detail and validations. */
export class CoderApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: IErrorBody
  ) {
    super(body.message || `The Jupyter server answered ${status}.`);
    this.name = 'CoderApiError';
  }
}

function asErrorBody(value: unknown, status: number): IErrorBody {
  if (typeof value === 'object' && value !== null && 'message' in value) {
    const body = value as IErrorBody;
    if (typeof body.message === 'string') {
      return body;
    }
  }
  return { message: `The Jupyter server answered ${status}.`, validations: [] };
}

export class CoderApi {
  readonly settings: ServerConnection.ISettings;

  constructor(settings?: ServerConnection.ISettings) {
    this.settings = settings ?? ServerConnection.makeSettings();
  }

  /** The URL of a route, e.g. url('workspaces', id, 'row'). */
  url(...parts: string[]): string {
    return URLExt.join(
      this.settings.baseUrl,
      'coder',
      'api',
      ...parts.map(encodeURIComponent)
    );
  }

  async request<T>(
    path: string[],
    init: RequestInit = {},
    query = ''
  ): Promise<T> {
    const url = this.url(...path) + query;
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new CoderApiError(0, {
        message: `The Jupyter server is unreachable: ${String(error)}`
      });
    }
    const text = await response.text();
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      throw new CoderApiError(
        response.status,
        asErrorBody(data, response.status)
      );
    }
    return data as T;
  }

  private _json(method: string, body: unknown): RequestInit {
    return {
      method,
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    };
  }

  rows(query = 'owner:me', shared = false): Promise<IRowsResponse> {
    return this.request(
      ['workspaces', 'rows'],
      {},
      `?q=${encodeURIComponent(query)}${shared ? '&shared=true' : ''}`
    );
  }

  async row(id: string): Promise<IRow> {
    return this.request<IRow>(['workspaces', id, 'row']);
  }

  async action(
    id: string,
    action: 'start' | 'stop' | 'restart'
  ): Promise<IRow> {
    const reply = await this.request<IRowResponse>(['workspaces', id, action], {
      method: 'POST'
    });
    return reply.row;
  }

  /** Update to the template's newest version (`coder update`); the workspace's Row after it. */
  async update(
    id: string,
    parameters: Record<string, string> = {}
  ): Promise<IRow> {
    const reply = await this.request<IRowResponse>(
      ['workspaces', id, 'update'],
      this._json('POST', { parameters })
    );
    return reply.row;
  }

  /** The auto-update policy: `always` moves it to the newest template version when it autostarts. */
  async setAutoUpdates(id: string, policy: 'always' | 'never'): Promise<IRow> {
    const reply = await this.request<IRowResponse>(
      ['workspaces', id, 'autoupdates'],
      this._json('PUT', { automatic_updates: policy })
    );
    return reply.row;
  }

  /** The workspace, with the plan (new stop time, capped or not, a sentence) and its Row. */
  extend(
    id: string,
    by: string
  ): Promise<{ plan?: IExtendPlan; row?: IRow; [key: string]: unknown }> {
    return this.request(
      ['workspaces', id, 'extend'],
      this._json('POST', { by })
    );
  }

  async remove(id: string, confirm: string): Promise<IRow> {
    const reply = await this.request<IRowResponse>(
      ['workspaces', id],
      { method: 'DELETE' },
      `?confirm=${encodeURIComponent(confirm)}`
    );
    return reply.row;
  }

  /** Rename; Coder's refusals (renames not allowed, name taken) come back in plain words. */
  async rename(id: string, name: string): Promise<IRow> {
    const reply = await this.request<IRowResponse>(
      ['workspaces', id, 'rename'],
      this._json('POST', { name })
    );
    return reply.row;
  }

  /** Cancel the build in progress (400 saying so when none is). */
  async cancelBuild(id: string): Promise<IRow> {
    const reply = await this.request<IRowResponse>(
      ['workspaces', id, 'cancel'],
      {
        method: 'POST'
      }
    );
    return reply.row;
  }

  /** Where the latest build's time went (build timings). */
  timings(id: string): Promise<ITimings> {
    return this.request(['workspaces', id, 'timings']);
  }

  logs(id: string, lines = 200): Promise<ILogs> {
    return this.request(['workspaces', id, 'logs'], {}, `?lines=${lines}`);
  }

  templates(): Promise<ITemplate[]> {
    return this.request(['templates']);
  }

  templateForm(name: string): Promise<ITemplateForm> {
    return this.request(['templates', name, 'form']);
  }

  /** The form for the answers so far (dynamic parameters: Coder evaluates it again). */
  evaluateForm(
    name: string,
    inputs: Record<string, string>
  ): Promise<ITemplateForm> {
    return this.request(
      ['templates', name, 'form'],
      this._json('POST', { inputs })
    );
  }

  create(
    body: ICreateBody
  ): Promise<{ id: string; name: string; [key: string]: unknown }> {
    return this.request(['workspaces'], this._json('POST', body));
  }

  preferences(): Promise<IPreferences> {
    return this.request(['preferences']);
  }

  savePreferences(preferences: IPreferences): Promise<IPreferences> {
    return this.request(['preferences'], this._json('PUT', preferences));
  }
}
