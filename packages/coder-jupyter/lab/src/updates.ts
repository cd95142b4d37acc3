/**
 * Template updates and workspace sharing in the panel (issue 13): when a row offers Update, what to ask
 * before it, and the "Shared with me" filter of the list stream. Pure functions; the panel is thin.
 */

import { IRow } from './types';

/** Update makes sense: the workspace is behind its template, settled, and this Coder offers updates. */
export function canUpdate(row: IRow): boolean {
  return (
    row.can_update &&
    row.settled &&
    row.status !== 'deleted' &&
    row.transition !== 'delete'
  );
}

/** The question to ask before updating: a running workspace stops first; null: nothing to ask. */
export function updateQuestion(row: IRow): string | null {
  if (row.status !== 'running') {
    return null;
  }
  return `${row.owner_name}/${row.name} stops, then starts on the newest version of template ${
    row.template_display_name || row.template_name
  }. Unsaved work inside it is lost.`;
}

/** The panel's two lists: your workspaces, or those other people shared with you. */
export type ListScope = 'mine' | 'shared';

/** The empty-list text of a scope while it loads. */
export function loadingText(scope: ListScope): string {
  return scope === 'shared'
    ? 'Loading workspaces shared with you…'
    : 'Loading your workspaces…';
}
