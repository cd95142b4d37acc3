/**
 * The panel's list of workspaces as a pure store: stream events in, what changed out.
 */
import { IRow } from './types';

export type ChangeKind = 'added' | 'changed' | 'removed';

export interface IChange {
  kind: ChangeKind;
  id: string;
  before: IRow | null;
  after: IRow | null;
}

/** What a change means for a person waiting on that workspace. */
export type Outcome = 'ready' | 'failed';

const FAILED_STAGES = new Set(['start_error', 'start_timeout', 'build_failed']);

/** Whether two rows would look the same in the panel (every field compared). */
export function sameRow(a: IRow, b: IRow): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Sort by owner, then name (case-insensitive), so the list does not jump when a row changes. */
export function compareRows(a: IRow, b: IRow): number {
  const owner = a.owner_name.localeCompare(b.owner_name, undefined, {
    sensitivity: 'base'
  });
  if (owner !== 0) {
    return owner;
  }
  return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
}

/**
 * The outcome a change reports, once per build: `ready` when a row reaches the ready stage,
 * `failed` when it reaches start_error, start_timeout or build_failed; null otherwise (and for a
 * row seen for the first time: a snapshot is not news).
 */
export function outcomeOf(
  before: IRow | null,
  after: IRow | null
): Outcome | null {
  if (before === null || after === null) {
    return null;
  }
  const sameBuild = before.build_number === after.build_number;
  if (after.stage === 'ready') {
    return sameBuild && before.stage === 'ready' ? null : 'ready';
  }
  if (FAILED_STAGES.has(after.stage) || (after.failed && !after.usable)) {
    const wasFailed = FAILED_STAGES.has(before.stage) || before.failed;
    return sameBuild && wasFailed ? null : 'failed';
  }
  return null;
}

/** Whether a failed stage's details (log tail) are worth opening. */
export function isFailure(row: IRow): boolean {
  return row.failed || FAILED_STAGES.has(row.stage);
}

export class RowStore {
  private readonly _rows = new Map<string, IRow>();

  get size(): number {
    return this._rows.size;
  }

  get(id: string): IRow | undefined {
    return this._rows.get(id);
  }

  /** All rows, owner then name. */
  rows(): IRow[] {
    return [...this._rows.values()].sort(compareRows);
  }

  /** Replace everything with a snapshot; rows not in it are removed. */
  applySnapshot(rows: IRow[]): IChange[] {
    const changes: IChange[] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      const change = this.applyRow(row);
      if (change !== null) {
        changes.push(change);
      }
    }
    for (const id of [...this._rows.keys()]) {
      if (!seen.has(id)) {
        const change = this.remove(id);
        if (change !== null) {
          changes.push(change);
        }
      }
    }
    return changes;
  }

  /** Add or update one row; null when nothing visible changed. */
  applyRow(row: IRow): IChange | null {
    const before = this._rows.get(row.id) ?? null;
    if (before !== null && sameRow(before, row)) {
      return null;
    }
    if (before !== null && isOlder(row, before)) {
      return null;
    }
    this._rows.set(row.id, row);
    return {
      kind: before === null ? 'added' : 'changed',
      id: row.id,
      before,
      after: row
    };
  }

  /** Forget one row; null when it was not there. */
  remove(id: string): IChange | null {
    const before = this._rows.get(id) ?? null;
    if (before === null) {
      return null;
    }
    this._rows.delete(id);
    return { kind: 'removed', id, before, after: null };
  }
}

/**
 * A row that reports an earlier state than the one we have (an action's reply arriving after the
 * stream already moved on): an older build, or the same build updated earlier.
 */
export function isOlder(row: IRow, current: IRow): boolean {
  if (row.build_number !== current.build_number) {
    return row.build_number < current.build_number;
  }
  const a = Date.parse(row.updated_at);
  const b = Date.parse(current.updated_at);
  return !Number.isNaN(a) && !Number.isNaN(b) && a < b;
}
