import { IParameterField, IRow } from '../types';

/** A Row as lab-routes serves it (the REST contract of issue 15), with overrides. */
export function row(overrides: Partial<IRow> = {}): IRow {
  return {
    id: 'ws-1',
    name: 'ml-box',
    owner_name: 'alice',
    template_name: 'python-ds',
    template_display_name: 'Python data science',
    status: 'running',
    transition: 'start',
    stage: 'ready',
    stage_label: 'Ready',
    settled: true,
    failed: false,
    usable: true,
    deadline: '2026-12-03T16:00:00Z',
    max_deadline: '2026-12-04T00:00:00Z',
    dashboard_url: 'https://coder.example.test/@alice/ml-box',
    build_number: 3,
    started_at: '2026-12-03T12:00:00Z',
    ready_at: '2026-12-03T12:00:42Z',
    startup_seconds: 42,
    build_seconds: 12,
    phases: [
      {
        name: 'queued',
        state: 'done',
        started_at: '2026-12-03T12:00:00Z',
        ended_at: '2026-12-03T12:00:01Z',
        seconds: 1
      },
      {
        name: 'building',
        state: 'done',
        started_at: '2026-12-03T12:00:01Z',
        ended_at: '2026-12-03T12:00:13Z',
        seconds: 12
      }
    ],
    error: '',
    outdated: false,
    can_update: false,
    can_extend: true,
    updated_at: '2026-12-03T12:00:42Z',
    ...overrides
  };
}

export function field(
  overrides: Partial<IParameterField> = {}
): IParameterField {
  return {
    name: 'cpu',
    display_name: '',
    description: '',
    type: 'string',
    form: 'text',
    options: [],
    default: '',
    required: false,
    mutable: true,
    ephemeral: false,
    min: null,
    max: null,
    regex: null,
    error: null,
    monotonic: null,
    ...overrides
  };
}
