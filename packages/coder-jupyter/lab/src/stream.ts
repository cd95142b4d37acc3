/**
 * The list stream (`GET workspaces/stream`): its URL, its events parsed and checked, and the
 * connection state the panel shows.
 */
import { IErrorBody, IRow } from './types';

export type StreamEvent =
  | { type: 'snapshot'; rows: IRow[] }
  | { type: 'row'; row: IRow }
  | { type: 'removed'; id: string }
  | { type: 'error'; error: IErrorBody };

export const STREAM_EVENT_TYPES = [
  'snapshot',
  'row',
  'removed',
  'error'
] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value that has what the panel needs of a Row (id and name as strings). */
export function isRow(value: unknown): value is IRow {
  return (
    isObject(value) &&
    typeof value.id === 'string' &&
    value.id !== '' &&
    typeof value.name === 'string'
  );
}

/** Fill the parts of a Row an older or partial server may leave out, so rendering never throws. */
export function normalizeRow(row: IRow): IRow {
  return {
    ...row,
    owner_name: row.owner_name ?? '',
    template_name: row.template_name ?? '',
    template_display_name: row.template_display_name ?? '',
    status: row.status ?? '',
    transition: row.transition ?? '',
    stage: row.stage ?? '',
    stage_label: row.stage_label ?? '',
    settled: Boolean(row.settled),
    failed: Boolean(row.failed),
    usable: Boolean(row.usable),
    deadline: row.deadline ?? null,
    max_deadline: row.max_deadline ?? null,
    dashboard_url: row.dashboard_url ?? '',
    build_number: typeof row.build_number === 'number' ? row.build_number : 0,
    started_at: row.started_at ?? null,
    ready_at: row.ready_at ?? null,
    startup_seconds: row.startup_seconds ?? null,
    build_seconds: row.build_seconds ?? null,
    phases: Array.isArray(row.phases) ? row.phases : [],
    error: row.error ?? '',
    outdated: Boolean(row.outdated),
    can_update: Boolean(row.can_update),
    can_extend: Boolean(row.can_extend),
    updated_at: row.updated_at ?? ''
  };
}

/**
 * One server-sent event as a typed value; null for an event the panel does not know or whose data
 * is not what the contract says (it is ignored, never thrown at the user).
 */
export function parseStreamEvent(
  type: string,
  data: string
): StreamEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  switch (type) {
    case 'snapshot':
      if (isObject(value) && Array.isArray(value.rows)) {
        return {
          type: 'snapshot',
          rows: value.rows.filter(isRow).map(normalizeRow)
        };
      }
      return null;
    case 'row':
      return isRow(value) ? { type: 'row', row: normalizeRow(value) } : null;
    case 'removed':
      return isObject(value) && typeof value.id === 'string'
        ? { type: 'removed', id: value.id }
        : null;
    case 'error':
      return {
        type: 'error',
        error: {
          message:
            isObject(value) && typeof value.message === 'string'
              ? value.message
              : 'Coder is unreachable.'
        }
      };
    default:
      return null;
  }
}

/**
 * The stream's URL. EventSource cannot send headers, so the server's token (when it has one) goes
 * in the query; with cookie auth it is left out.
 */
export function streamUrl(
  baseUrl: string,
  query: string,
  token: string,
  shared = false
): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const params = new URLSearchParams();
  params.set('q', query);
  if (shared) {
    params.set('shared', 'true');
  }
  if (token) {
    params.set('token', token);
  }
  return `${base}coder/api/workspaces/stream?${params.toString()}`;
}

export type ConnectionState = 'live' | 'reconnecting';

/**
 * When to open the stream again after the browser gave up on it (EventSource reconnects by itself
 * after a dropped connection, but not after an HTTP error answer or a refused connection, as while
 * the Jupyter server restarts): 1 s, growing by half, at most 10 s, so a panel is back within
 * seconds of its server; back to 1 s once a snapshot arrived.
 */
export class ReconnectPolicy {
  private _attempt = 0;

  constructor(
    readonly firstDelayMs = 1000,
    readonly maxDelayMs = 10000,
    readonly factor = 1.5
  ) {}

  get attempt(): number {
    return this._attempt;
  }

  /** The delay before the next attempt, and count it. */
  nextDelay(): number {
    const delay = Math.min(
      this.maxDelayMs,
      Math.round(this.firstDelayMs * this.factor ** this._attempt)
    );
    this._attempt += 1;
    return delay;
  }

  reset(): void {
    this._attempt = 0;
  }
}

/**
 * The connection indicator's state machine: `reconnecting` until the first event arrives, `live`
 * after a snapshot or row, `reconnecting` again on an error event or a dropped connection, with the
 * reason to show.
 */
export class ConnectionTracker {
  private _state: ConnectionState = 'reconnecting';
  private _reason = 'Connecting…';

  get state(): ConnectionState {
    return this._state;
  }

  get reason(): string {
    return this._reason;
  }

  /** Returns whether the state changed. */
  onEvent(event: StreamEvent): boolean {
    if (event.type === 'error') {
      return this._set('reconnecting', `Reconnecting: ${event.error.message}`);
    }
    // A snapshot, or a row after an error: the server reached Coder again.
    return this._set('live', 'Live');
  }

  onDropped(): boolean {
    return this._set('reconnecting', 'Connection lost; reconnecting…');
  }

  private _set(state: ConnectionState, reason: string): boolean {
    const changed = state !== this._state || reason !== this._reason;
    this._state = state;
    this._reason = reason;
    return changed;
  }
}
