import {
  availableActions,
  formatClock,
  formatDeadline,
  formatSeconds,
  humanize,
  outcomeMessage,
  phaseText,
  stageText,
  stageTone,
  startupText
} from '../format';
import { row } from './fixtures';

describe('formatSeconds', () => {
  it.each([
    [null, '—'],
    [undefined, '—'],
    [Number.NaN, '—'],
    [0, '0s'],
    [0.44, '0.4s'],
    [3, '3s'],
    [9.96, '10s'],
    [42.4, '42s'],
    [60, '1m'],
    [185, '3m 5s'],
    [3600, '1h'],
    [3720, '1h 2m'],
    [86400 + 3 * 3600, '1d 3h'],
    [2 * 86400, '2d'],
    [-5, '0s']
  ])('%p → %p', (seconds, text) => {
    expect(formatSeconds(seconds as number | null | undefined)).toBe(text);
  });
});

describe('deadlines', () => {
  const now = new Date(2026, 11, 3, 14, 0, 0);

  it('shows the local stop time and what is left', () => {
    const in80 = new Date(2026, 11, 3, 15, 20, 0).toISOString();
    expect(formatDeadline(in80, now)).toBe('stops 15:20 (in 1h 20m)');
  });

  it('says when there is none, or it passed, and adds the date when not today', () => {
    expect(formatDeadline(null, now)).toBe('no stop time');
    expect(formatDeadline('garbage', now)).toBe('no stop time');
    expect(
      formatDeadline(new Date(2026, 11, 3, 13, 5).toISOString(), now)
    ).toBe('stop time passed (13:05)');
    expect(formatClock(new Date(2026, 11, 4, 9, 7), now)).toBe(
      '2026-12-04 09:07'
    );
  });
});

describe('phases and stages', () => {
  it('describes each phase state', () => {
    const base = { name: 'agent_connecting', started_at: null, ended_at: null };
    expect(phaseText({ ...base, state: 'done', seconds: 3 })).toBe(
      'Agent connecting — 3s'
    );
    expect(phaseText({ ...base, state: 'active', seconds: null })).toBe(
      'Agent connecting — running'
    );
    expect(phaseText({ ...base, state: 'pending', seconds: null })).toBe(
      'Agent connecting — pending'
    );
    expect(phaseText({ ...base, state: 'failed', seconds: null })).toBe(
      'Agent connecting — failed'
    );
    expect(phaseText({ ...base, state: 'failed', seconds: 61 })).toBe(
      'Agent connecting — failed after 1m 1s'
    );
    expect(humanize('Startup script "install"')).toBe(
      'Startup script "install"'
    );
  });

  it('uses the server label, else the stage', () => {
    expect(stageText(row({ stage_label: 'Agent connecting' }))).toBe(
      'Agent connecting'
    );
    expect(stageText(row({ stage_label: '', stage: 'start_timeout' }))).toBe(
      'Start timeout'
    );
  });

  it('gives each stage a tone', () => {
    expect(stageTone(row())).toBe('ok');
    expect(stageTone(row({ stage: 'start_error', failed: true }))).toBe(
      'failed'
    );
    expect(stageTone(row({ stage: 'stopped', status: 'stopped' }))).toBe('off');
    expect(stageTone(row({ stage: 'building' }))).toBe('busy');
  });

  it('states build and startup durations', () => {
    expect(startupText(row())).toBe('build 12s, startup 42s');
    expect(
      startupText(row({ build_seconds: null, startup_seconds: null }))
    ).toBe('no startup measured yet');
  });
});

describe('outcomeMessage', () => {
  it('says ready with the startup time, or what failed', () => {
    expect(outcomeMessage(row(), 'ready')).toBe(
      'Workspace ml-box is ready (started in 42s).'
    );
    expect(outcomeMessage(row({ startup_seconds: null }), 'ready')).toBe(
      'Workspace ml-box is ready.'
    );
    expect(
      outcomeMessage(
        row({ stage: 'start_error', error: 'script "setup" exited 1' }),
        'failed'
      )
    ).toBe('Workspace ml-box failed: script "setup" exited 1');
    expect(
      outcomeMessage(
        row({ stage: 'build_failed', stage_label: 'Build failed' }),
        'failed'
      )
    ).toBe('Workspace ml-box: Build failed.');
  });
});

describe('availableActions', () => {
  it('a ready workspace can stop, restart and extend, not start', () => {
    expect(availableActions(row())).toEqual({
      start: false,
      stop: true,
      restart: true,
      extend: true,
      cancel: false,
      rename: true
    });
  });

  it('a stopped or failed one can start', () => {
    const stopped = row({
      status: 'stopped',
      transition: 'stop',
      stage: 'stopped',
      can_extend: false
    });
    expect(availableActions(stopped)).toEqual({
      start: true,
      stop: false,
      restart: false,
      extend: false,
      cancel: false,
      rename: true
    });
    expect(
      availableActions(row({ status: 'failed', stage: 'build_failed' })).start
    ).toBe(true);
  });

  it('a workspace on its way can be stopped but not started or restarted', () => {
    const building = row({
      status: 'starting',
      stage: 'building',
      settled: false
    });
    expect(availableActions(building)).toMatchObject({
      start: false,
      stop: true,
      restart: false,
      cancel: true
    });
  });
});
