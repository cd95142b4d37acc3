/**
 * The human text of the panel: durations, stop times, phases. Pure functions of their inputs.
 */
import { IPhase, IRow } from './types';

/** "0.4s", "42s", "3m 5s", "1h 2m", "2d 3h"; "—" for null or not a number. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '—';
  }
  if (seconds < 9.95) {
    // Short phases (and a fast stand-in) deserve a decimal: 0.4s, 3.2s; whole seconds lose the ".0".
    return `${Math.max(0, Math.round(seconds * 10) / 10)}s`;
  }
  const total = Math.round(seconds);
  if (total < 60) {
    return `${total}s`;
  }
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (days > 0) {
    return hours > 0 ? `${days}d ${hours}h` : `${days}d`;
  }
  if (hours > 0) {
    return minutes > 0 ? `${hours}h ${minutes}m` : `${hours}h`;
  }
  return rest > 0 ? `${minutes}m ${rest}s` : `${minutes}m`;
}

function twoDigits(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

/** The local wall-clock time of an instant, "14:05" (with the date when it is not today). */
export function formatClock(when: Date, now: Date): string {
  const clock = `${twoDigits(when.getHours())}:${twoDigits(when.getMinutes())}`;
  const sameDay =
    when.getFullYear() === now.getFullYear() &&
    when.getMonth() === now.getMonth() &&
    when.getDate() === now.getDate();
  if (sameDay) {
    return clock;
  }
  return `${when.getFullYear()}-${twoDigits(when.getMonth() + 1)}-${twoDigits(when.getDate())} ${clock}`;
}

/** A stop time: "stops 14:05 (in 1h 20m)", "stop time passed" , or "no stop time". */
export function formatDeadline(iso: string | null, now: Date): string {
  if (!iso) {
    return 'no stop time';
  }
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) {
    return 'no stop time';
  }
  const left = (when.getTime() - now.getTime()) / 1000;
  if (left <= 0) {
    return `stop time passed (${formatClock(when, now)})`;
  }
  return `stops ${formatClock(when, now)} (in ${formatSeconds(left)})`;
}

/** One phase as a line of the timeline: "Building — 12s", "Agent connecting — running". */
export function phaseText(phase: IPhase): string {
  const label = humanize(phase.name);
  switch (phase.state) {
    case 'done':
      return `${label} — ${formatSeconds(phase.seconds)}`;
    case 'failed':
      return phase.seconds === null
        ? `${label} — failed`
        : `${label} — failed after ${formatSeconds(phase.seconds)}`;
    case 'active':
      return `${label} — running`;
    default:
      return `${label} — pending`;
  }
}

/** "agent_connecting" and "agent connecting" → "Agent connecting"; other capitals are kept. */
export function humanize(name: string): string {
  const words = /\s/.test(name)
    ? name.trim()
    : name.replace(/[_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The row's stage as shown in the list: the server's label, else the humanized stage. */
export function stageText(row: IRow): string {
  return row.stage_label || humanize(row.stage || row.status);
}

/** A coarse class for the stage's colour: ok, busy, failed, off. */
export function stageTone(row: IRow): 'ok' | 'busy' | 'failed' | 'off' {
  if (
    row.failed ||
    ['start_error', 'start_timeout', 'build_failed'].includes(row.stage)
  ) {
    return 'failed';
  }
  if (row.stage === 'ready') {
    return 'ok';
  }
  if (
    ['stopped', 'deleted', 'build_canceled'].includes(row.stage) ||
    row.status === 'stopped'
  ) {
    return 'off';
  }
  return 'busy';
}

/** The startup line of the details view. */
export function startupText(row: IRow): string {
  const parts: string[] = [];
  if (row.build_seconds !== null && row.build_seconds !== undefined) {
    parts.push(`build ${formatSeconds(row.build_seconds)}`);
  }
  if (row.startup_seconds !== null && row.startup_seconds !== undefined) {
    parts.push(`startup ${formatSeconds(row.startup_seconds)}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'no startup measured yet';
}

/** Whether Start, Stop and Restart make sense for the row now. */
export function availableActions(row: IRow): {
  start: boolean;
  stop: boolean;
  restart: boolean;
  extend: boolean;
  cancel: boolean;
  rename: boolean;
} {
  const busy = !row.settled;
  const running = row.status === 'running' || row.transition === 'start';
  const stopped =
    row.status === 'stopped' ||
    row.status === 'failed' ||
    row.status === 'canceled' ||
    row.stage === 'stopped';
  return {
    start: !busy && stopped && row.status !== 'deleted',
    stop: running && row.status !== 'deleted' && row.transition !== 'stop',
    restart: !busy && running,
    extend: row.can_extend,
    // verbs (issue 13): a build in progress can be canceled; any workspace not (being) deleted renamed
    cancel: BUILDING.has(row.status),
    rename: row.status !== 'deleted' && row.transition !== 'delete'
  };
}

/** Workspace statuses with a build job in progress (Coder's `pending`, `starting`, …). */
const BUILDING = new Set(['pending', 'starting', 'stopping', 'deleting']);

/** The notification text of an outcome the person waited on. */
export function outcomeMessage(row: IRow, outcome: 'ready' | 'failed'): string {
  if (outcome === 'ready') {
    const took =
      row.startup_seconds !== null && row.startup_seconds !== undefined
        ? ` (started in ${formatSeconds(row.startup_seconds)})`
        : '';
    return `Workspace ${row.name} is ready${took}.`;
  }
  if (row.error) {
    return `Workspace ${row.name} failed: ${row.error}`;
  }
  return `Workspace ${row.name}: ${stageText(row)}.`;
}
