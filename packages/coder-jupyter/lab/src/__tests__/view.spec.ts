/**
 * @jest-environment jsdom
 */
import { FORM_ERROR, NAME_FIELD, TEMPLATE_FIELD } from '../form';
import {
  readParameterInput,
  renderConnection,
  renderDetails,
  renderForm,
  renderParameterInput,
  renderRow
} from '../view';
import { field, row } from './fixtures';

const now = new Date('2026-12-03T14:00:00Z');
const options = { now, pinned: false, busy: new Set<string>() };

function text(root: Element, selector: string): string {
  return root.querySelector(selector)?.textContent ?? '';
}

function enabled(root: Element, action: string): boolean {
  const button = root.querySelector<HTMLButtonElement>(
    `[data-action="${action}"]`
  );
  if (!button) {
    throw new Error(`no ${action} button`);
  }
  return !button.disabled;
}

describe('renderRow', () => {
  it('has the contract fields and every action', () => {
    const element = renderRow(row(), options);
    expect(element.getAttribute('data-workspace-id')).toBe('ws-1');
    expect(text(element, '[data-field="name"]')).toBe('ml-box');
    expect(text(element, '[data-field="status"]')).toBe('running');
    expect(text(element, '[data-field="template"]')).toBe(
      'Python data science'
    );
    expect(text(element, '[data-field="owner"]')).toBe('alice');
    expect(text(element, '[data-field="stage"]')).toBe('Ready');
    expect(
      element
        .querySelector('[data-field="deadline"]')
        ?.getAttribute('data-value')
    ).toBe('2026-12-03T16:00:00Z');
    const actions = [...element.querySelectorAll('[data-action]')].map(b =>
      b.getAttribute('data-action')
    );
    expect(actions).toEqual([
      'open',
      'start',
      'stop',
      'restart',
      'extend-1h',
      'extend-2h',
      'details',
      'pin',
      'rename',
      'cancel-build',
      'delete'
    ]);
    expect(
      ['start', 'stop', 'restart', 'extend-1h'].map(a => enabled(element, a))
    ).toEqual([false, true, true, true]);
  });

  it('offers Cancel build only while a build runs, Rename unless deleted', () => {
    const ready = renderRow(row(), options);
    expect(['rename', 'cancel-build'].map(a => enabled(ready, a))).toEqual([
      true,
      false
    ]);
    const building = renderRow(
      row({ status: 'starting', stage: 'building', settled: false }),
      options
    );
    expect(enabled(building, 'cancel-build')).toBe(true);
    const deleting = renderRow(
      row({ status: 'deleting', transition: 'delete', settled: false }),
      options
    );
    expect(['rename', 'cancel-build'].map(a => enabled(deleting, a))).toEqual([
      false,
      true
    ]);
    const busy = renderRow(row({ status: 'pending', settled: false }), {
      ...options,
      busy: new Set(['cancel-build'])
    });
    expect(enabled(busy, 'cancel-build')).toBe(false);
  });

  it('shows errors, outdated templates, pins and busy actions', () => {
    const element = renderRow(
      row({
        stage: 'start_error',
        failed: true,
        error: 'script "setup" exited 1',
        outdated: true
      }),
      { now, pinned: true, busy: new Set(['stop']) }
    );
    expect(text(element, '[data-field="error"]')).toBe(
      'script "setup" exited 1'
    );
    expect(text(element, '[data-field="template"]')).toBe(
      'Python data science (outdated)'
    );
    expect(text(element, '[data-action="pin"]')).toBe('Unpin');
    expect(enabled(element, 'stop')).toBe(false);
    expect(element.classList.contains('jp-mod-failed')).toBe(true);
  });

  it('a stopped workspace offers Start, not Stop or Extend', () => {
    const element = renderRow(
      row({
        status: 'stopped',
        transition: 'stop',
        stage: 'stopped',
        can_extend: false,
        deadline: null
      }),
      options
    );
    expect(
      ['start', 'stop', 'extend-2h'].map(a => enabled(element, a))
    ).toEqual([true, false, false]);
    expect(text(element, '[data-field="deadline"]')).toBe('no stop time');
  });
});

describe('renderDetails', () => {
  it('lists phases and the startup time; the log only for a failure', () => {
    const details = renderDetails(row(), null);
    expect(details.getAttribute('data-details-for')).toBe('ws-1');
    expect(
      [...details.querySelectorAll('[data-field="phases"] li')].map(
        li => li.textContent
      )
    ).toEqual(['Queued — 1s', 'Building — 12s']);
    expect(text(details, '[data-field="startup"]')).toBe(
      'build 12s, startup 42s'
    );
    expect(text(details, '[data-field="log"]')).toMatch(/when a start fails/);
  });

  it('shows the log tail of a failed start, or why it could not be read', () => {
    const failed = row({ stage: 'start_error', failed: true, phases: [] });
    const logs = {
      build_log: ['b'],
      startup_log: ['line 1', 'exit 1'],
      truncated: true
    };
    expect(text(renderDetails(failed, logs), '[data-field="log"]')).toBe(
      '…\nline 1\nexit 1'
    );
    expect(
      text(
        renderDetails(failed, { ...logs, startup_log: [] }),
        '[data-field="log"]'
      )
    ).toBe('…\nb');
    expect(text(renderDetails(failed, 'loading'), '[data-field="log"]')).toBe(
      'Loading the log…'
    );
    expect(
      text(renderDetails(failed, new Error('gone')), '[data-field="log"]')
    ).toMatch(/gone/);
    expect(text(renderDetails(failed, null), '[data-field="phases"]')).toBe(
      'No build yet.'
    );
  });
});

describe('renderConnection', () => {
  it('says live or reconnecting', () => {
    expect(
      renderConnection('live', 'Live').getAttribute('data-connection')
    ).toBe('live');
    const down = renderConnection(
      'reconnecting',
      'Connection lost; reconnecting…'
    );
    expect(down.getAttribute('data-connection')).toBe('reconnecting');
    expect(down.textContent).toContain('Connection lost');
  });
});

describe('the form', () => {
  const size = field({
    name: 'size',
    form: 'select',
    options: [
      ['Small', 'small'],
      ['Large', 'large']
    ],
    default: 'small'
  });
  const gpu = field({
    name: 'gpu',
    type: 'bool',
    form: 'checkbox',
    default: 'true'
  });
  const tags = field({ name: 'tags', type: 'list(string)', form: 'tags' });
  const zones = field({
    name: 'zones',
    type: 'list(string)',
    form: 'multi-select',
    options: [
      ['A', 'a'],
      ['B', 'b']
    ]
  });
  const notes = field({ name: 'notes', form: 'textarea' });
  const cores = field({
    name: 'cores',
    type: 'number',
    form: 'number',
    min: 1,
    max: 4
  });

  it('renders every input kind and reads it back', () => {
    const cases: [ReturnType<typeof field>, unknown][] = [
      [size, 'large'],
      [gpu, true],
      [tags, ['x', 'y']],
      [zones, ['b']],
      [notes, 'hello'],
      [cores, '3']
    ];
    for (const [f, value] of cases) {
      const input = renderParameterInput(f, value as never);
      expect(input.getAttribute('data-param')).toBe(f.name);
      expect(readParameterInput(f, input)).toEqual(value);
    }
  });

  it('starts with no template chosen, shows fields in order and errors per field', () => {
    const form = renderForm({
      templates: [
        { name: 'broken', display_name: 'Broken startup' },
        { name: 'python-ds' }
      ],
      template: '',
      name: '',
      ttl: '',
      fields: [size, gpu],
      values: { size: 'small', gpu: true },
      errors: {
        [NAME_FIELD]: 'Give the workspace a name.',
        size: 'Choose one.',
        [FORM_ERROR]: 'x'
      },
      submitting: false,
      loadingFields: false
    });
    const template = form.querySelector<HTMLSelectElement>(
      `[data-param="${TEMPLATE_FIELD}"]`
    );
    expect(template?.value).toBe('');
    expect(
      [...form.querySelectorAll('[data-param]')].map(e =>
        e.getAttribute('data-param')
      )
    ).toEqual(['__template', 'size', 'gpu', '__name', '__ttl']);
    expect(text(form, `[data-error-for="${NAME_FIELD}"]`)).toBe(
      'Give the workspace a name.'
    );
    expect(text(form, '[data-error-for="size"]')).toBe('Choose one.');
    expect(text(form, '[data-error-for="gpu"]')).toBe('');
    expect(text(form, `[data-error-for="${FORM_ERROR}"]`)).toBe('x');
    expect(
      form.querySelector<HTMLButtonElement>('[data-action="create"]')?.disabled
    ).toBe(false);
  });

  it('describes the chosen template (and each option)', () => {
    const form = renderForm({
      templates: [
        { name: 'python-ds', description: 'Python 3.11 and JupyterLab.' },
        { name: 'broken', description: 'Fails on purpose.' }
      ],
      template: 'python-ds',
      name: '',
      ttl: '',
      fields: null,
      values: {},
      errors: {},
      submitting: false,
      loadingFields: false
    });
    expect(form.textContent).toContain('Python 3.11 and JupyterLab.');
    expect(form.textContent).not.toContain('Fails on purpose.');
    const broken = form.querySelector<HTMLOptionElement>(
      'option[value="broken"]'
    );
    expect(broken?.title).toBe('Fails on purpose.');
  });

  it('keeps the chosen template and disables Create while busy', () => {
    const form = renderForm({
      templates: [{ name: 'python-ds' }],
      template: 'python-ds',
      name: 'x',
      ttl: '8h',
      fields: null,
      values: {},
      errors: {},
      submitting: true,
      loadingFields: true
    });
    expect(
      form.querySelector<HTMLSelectElement>('[data-param="__template"]')?.value
    ).toBe('python-ds');
    expect(
      form.querySelector<HTMLButtonElement>('[data-action="create"]')?.disabled
    ).toBe(true);
    expect(form.textContent).toContain('Loading parameters…');
  });
});
