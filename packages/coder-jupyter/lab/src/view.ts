/**
 * The panel's DOM, built from plain data (no JupyterLab imports, so jest renders it in jsdom).
 * The attributes are the contract the browser tests use: data-workspace-id, data-field, data-action,
 * data-param, data-error-for, data-details-for, data-connection.
 */
import { h } from './dom';
import { renderTimings } from './timings';
import {
  FieldValue,
  FORM_ERROR,
  NAME_FIELD,
  TEMPLATE_FIELD,
  TTL_FIELD,
  fieldLabel
} from './form';
import {
  availableActions,
  formatDeadline,
  phaseText,
  stageText,
  stageTone,
  startupText
} from './format';
import { isFailure } from './rows';
import { canUpdate } from './updates';
import { ConnectionState } from './stream';
import {
  PRESET_FIELD,
  findPreset,
  fixedByPreset,
  presetLabel
} from './presets';
import {
  ILogs,
  IParameterField,
  IPreset,
  IRow,
  ITemplate,
  ITimings
} from './types';

export interface IRowViewOptions {
  now: Date;
  pinned: boolean;
  /** Actions waiting for the server (their buttons are disabled). */
  busy: ReadonlySet<string>;
}

function button(
  action: string,
  label: string,
  title: string,
  enabled: boolean,
  extra: Record<string, string | boolean> = {}
): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      className: `jp-CoderPanel-button jp-CoderPanel-action-${action}`,
      'data-action': action,
      title,
      disabled: !enabled,
      ...extra
    },
    label
  );
}

/** One workspace in the list, with its fields and action buttons. */
export function renderRow(row: IRow, options: IRowViewOptions): HTMLLIElement {
  const can = availableActions(row);
  const busy = (action: string): boolean => options.busy.has(action);
  const tone = stageTone(row);
  const template = row.template_display_name || row.template_name;
  const title = `${row.owner_name}/${row.name}`;
  return h(
    'li',
    {
      className: `jp-CoderPanel-row jp-mod-${tone}`,
      'data-workspace-id': row.id,
      'data-stage': row.stage,
      'data-pinned': options.pinned ? 'true' : 'false'
    },
    h(
      'div',
      { className: 'jp-CoderPanel-rowHead' },
      h(
        'span',
        { className: 'jp-CoderPanel-name', 'data-field': 'name', title },
        row.name
      ),
      h(
        'span',
        {
          className: `jp-CoderPanel-stage jp-mod-${tone}`,
          'data-field': 'stage',
          'data-value': row.stage,
          title: row.error || stageText(row)
        },
        stageText(row)
      )
    ),
    h(
      'div',
      { className: 'jp-CoderPanel-meta' },
      h(
        'span',
        {
          'data-field': 'status',
          'data-value': row.status,
          title: 'Latest build status'
        },
        row.status || '—'
      ),
      h(
        'span',
        {
          'data-field': 'template',
          'data-value': row.template_name,
          title: 'Template'
        },
        template || '—',
        row.outdated ? ' (outdated)' : ''
      ),
      h(
        'span',
        { 'data-field': 'owner', 'data-value': row.owner_name, title: 'Owner' },
        row.owner_name
      ),
      h(
        'span',
        {
          'data-field': 'deadline',
          'data-value': row.deadline ?? '',
          title: row.max_deadline
            ? `At the latest ${row.max_deadline}`
            : 'Stop time'
        },
        formatDeadline(row.deadline, options.now)
      )
    ),
    row.error
      ? h(
          'div',
          { className: 'jp-CoderPanel-error', 'data-field': 'error' },
          row.error
        )
      : null,
    h(
      'div',
      { className: 'jp-CoderPanel-actions' },
      button(
        'open',
        'Open',
        'Open in the Coder dashboard',
        Boolean(row.dashboard_url)
      ),
      button(
        'start',
        'Start',
        'Start the workspace',
        can.start && !busy('start')
      ),
      button(
        'stop',
        'Stop',
        'Stop the workspace (asks first)',
        can.stop && !busy('stop')
      ),
      button(
        'restart',
        'Restart',
        'Stop, then start again',
        can.restart && !busy('restart')
      ),
      button(
        'extend-1h',
        '+1h',
        'One hour later than the current stop time',
        can.extend && !busy('extend-1h')
      ),
      button(
        'extend-2h',
        '+2h',
        'Two hours later than the current stop time',
        can.extend && !busy('extend-2h')
      ),
      canUpdate(row)
        ? button(
            'update',
            'Update',
            "Move to the template's newest version (a running workspace restarts)",
            !busy('update')
          )
        : null,
      button('details', 'Details', 'Phases, startup time and log', true),
      button(
        'pin',
        options.pinned ? 'Unpin' : 'Pin',
        'Notify me when it becomes ready or fails',
        true,
        {
          'aria-pressed': options.pinned ? 'true' : 'false'
        }
      ),
      button(
        'rename',
        'Rename',
        'Give the workspace a new name (asks for it)',
        can.rename && !busy('rename')
      ),
      button(
        'cancel-build',
        'Cancel build',
        'Cancel the build in progress',
        can.cancel && !busy('cancel-build')
      ),
      button(
        'delete',
        'Delete',
        'Delete the workspace (asks for its name)',
        row.status !== 'deleted' &&
          row.transition !== 'delete' &&
          !busy('delete')
      )
    )
  );
}

/** The details view of one workspace: phase timeline, startup duration, log tail when it failed. */
export function renderDetails(
  row: IRow,
  logs: ILogs | null | 'loading' | Error,
  timings: ITimings | null = null
): HTMLElement {
  const phases = h(
    'ol',
    { className: 'jp-CoderPanel-phases', 'data-field': 'phases' },
    row.phases.map(phase =>
      h(
        'li',
        {
          className: `jp-CoderPanel-phase jp-mod-${phase.state}`,
          'data-phase': phase.name,
          'data-state': phase.state
        },
        phaseText(phase)
      )
    )
  );
  if (row.phases.length === 0) {
    phases.append(
      h('li', { className: 'jp-CoderPanel-phase' }, 'No build yet.')
    );
  }
  let log: HTMLElement;
  if (!isFailure(row)) {
    log = h(
      'div',
      { className: 'jp-CoderPanel-log', 'data-field': 'log' },
      'The log tail appears here when a start fails.'
    );
  } else if (logs === 'loading' || logs === null) {
    log = h(
      'div',
      { className: 'jp-CoderPanel-log', 'data-field': 'log' },
      'Loading the log…'
    );
  } else if (logs instanceof Error) {
    log = h(
      'div',
      { className: 'jp-CoderPanel-log jp-mod-error', 'data-field': 'log' },
      `The log could not be read: ${logs.message}`
    );
  } else {
    const lines =
      logs.startup_log.length > 0 ? logs.startup_log : logs.build_log;
    log = h(
      'pre',
      { className: 'jp-CoderPanel-log', 'data-field': 'log' },
      logs.truncated ? '…\n' : '',
      lines.join('\n') || 'The log is empty.'
    );
  }
  return h(
    'div',
    { className: 'jp-CoderPanel-details', 'data-details-for': row.id },
    h('div', { className: 'jp-CoderPanel-detailsTitle' }, 'Phases'),
    phases,
    h(
      'div',
      { className: 'jp-CoderPanel-startup', 'data-field': 'startup' },
      startupText(row)
    ),
    renderTimings(timings),
    log
  );
}

/** The connection indicator: live, or reconnecting with the reason. */
export function renderConnection(
  state: ConnectionState,
  reason: string
): HTMLElement {
  return h(
    'span',
    {
      className: `jp-CoderPanel-connection jp-mod-${state}`,
      'data-connection': state,
      title: reason
    },
    state === 'live' ? '● Live' : `○ ${reason}`
  );
}

function errorSlot(name: string, errors: Record<string, string>): HTMLElement {
  return h(
    'div',
    {
      className: 'jp-CoderPanel-fieldError',
      'data-error-for': name,
      role: 'alert'
    },
    errors[name] ?? ''
  );
}

function labelled(
  name: string,
  label: string,
  description: string,
  input: HTMLElement,
  errors: Record<string, string>
): HTMLElement {
  return h(
    'div',
    { className: 'jp-CoderPanel-field' },
    h(
      'label',
      { className: 'jp-CoderPanel-label', for: `coder-param-${name}` },
      label
    ),
    input,
    description
      ? h('div', { className: 'jp-CoderPanel-help' }, description)
      : null,
    errorSlot(name, errors)
  );
}

/** The input of one template parameter, by its form kind. */
export function renderParameterInput(
  field: IParameterField,
  value: FieldValue
): HTMLElement {
  const id = `coder-param-${field.name}`;
  const common = { id, 'data-param': field.name, name: field.name };
  switch (field.form) {
    case 'checkbox':
      return h('input', {
        ...common,
        type: 'checkbox',
        className: 'jp-CoderPanel-checkbox',
        checked: value === true
      });
    case 'select':
    case 'radio': {
      const select = h(
        'select',
        { ...common, className: 'jp-mod-styled' },
        field.required
          ? null
          : h('option', { value: '' }, '(template default)'),
        field.options.map(([label, optionValue]) =>
          h(
            'option',
            { value: optionValue, selected: optionValue === value },
            label
          )
        )
      );
      select.value = typeof value === 'string' ? value : '';
      return select;
    }
    case 'multi-select': {
      const chosen = Array.isArray(value) ? value : [];
      return h(
        'select',
        { ...common, className: 'jp-mod-styled', multiple: true },
        field.options.map(([label, optionValue]) =>
          h(
            'option',
            { value: optionValue, selected: chosen.includes(optionValue) },
            label
          )
        )
      );
    }
    case 'tags':
      return h('input', {
        ...common,
        type: 'text',
        className: 'jp-mod-styled',
        placeholder: 'comma-separated',
        value: Array.isArray(value) ? value.join(', ') : String(value)
      });
    case 'textarea': {
      const area = h('textarea', {
        ...common,
        className: 'jp-mod-styled',
        rows: '3'
      });
      area.value = typeof value === 'string' ? value : '';
      return area;
    }
    case 'number':
      return h('input', {
        ...common,
        type: 'number',
        className: 'jp-mod-styled',
        value: typeof value === 'string' ? value : '',
        min: field.min !== null ? String(field.min) : undefined,
        max: field.max !== null ? String(field.max) : undefined
      });
    default:
      return h('input', {
        ...common,
        type: 'text',
        className: 'jp-mod-styled',
        value: typeof value === 'string' ? value : ''
      });
  }
}

/** Read an input back into the form's value type. */
export function readParameterInput(
  field: IParameterField,
  input: Element
): FieldValue {
  if (field.form === 'checkbox') {
    return (input as HTMLInputElement).checked;
  }
  if (field.form === 'multi-select') {
    return [...(input as HTMLSelectElement).selectedOptions].map(
      option => option.value
    );
  }
  if (field.form === 'tags') {
    return (input as HTMLInputElement).value
      .split(',')
      .map(item => item.trim())
      .filter(item => item !== '');
  }
  return (input as HTMLInputElement).value;
}

export interface IFormView {
  templates: ITemplate[];
  template: string;
  name: string;
  ttl: string;
  fields: IParameterField[] | null;
  values: Record<string, FieldValue>;
  errors: Record<string, string>;
  submitting: boolean;
  loadingFields: boolean;
  /** presets: the template's (none: no preset select) and the chosen one's id */
  presets?: IPreset[];
  preset?: string;
}

/** presets: the preset select, placed before the parameters. */
function renderPresetSelect(
  presets: IPreset[],
  chosen: IPreset | null,
  errors: Record<string, string>
): HTMLElement {
  const select = h(
    'select',
    {
      id: `coder-param-${PRESET_FIELD}`,
      'data-param': PRESET_FIELD,
      className: 'jp-mod-styled'
    },
    h('option', { value: '' }, 'No preset'),
    presets.map(preset =>
      h(
        'option',
        { value: preset.id, selected: preset.id === chosen?.id },
        presetLabel(preset)
      )
    )
  );
  select.value = chosen?.id ?? '';
  return labelled(
    PRESET_FIELD,
    'Preset',
    chosen?.description || 'A preset fills in parameters with fixed values.',
    select,
    errors
  );
}

/** The New workspace form: template, parameters (in the template's order), name, stop after. */
export function renderForm(view: IFormView): HTMLFormElement {
  const templateSelect = h(
    'select',
    {
      id: 'coder-param-__template',
      'data-param': TEMPLATE_FIELD,
      className: 'jp-mod-styled'
    },
    h('option', { value: '' }, 'Choose a template…'),
    view.templates.map(template =>
      h(
        'option',
        {
          value: template.name,
          selected: template.name === view.template,
          title: template.description ?? ''
        },
        template.display_name || template.name
      )
    )
  );
  templateSelect.value = view.template;
  const parameters: HTMLElement[] = [];
  const chosen = findPreset(view.presets, view.preset ?? '');
  if (view.presets && view.presets.length > 0) {
    parameters.push(renderPresetSelect(view.presets, chosen, view.errors));
  }
  if (view.loadingFields) {
    parameters.push(
      h('div', { className: 'jp-CoderPanel-help' }, 'Loading parameters…')
    );
  }
  for (const field of view.fields ?? []) {
    const input = renderParameterInput(
      field,
      view.values[field.name] ?? field.default
    );
    if (fixedByPreset(chosen, field)) {
      input.setAttribute('disabled', ''); // presets: a preset's values are fixed
      input.title = `Fixed by the preset ${chosen?.name ?? ''}`;
    }
    parameters.push(
      labelled(
        field.name,
        fieldLabel(field) + (field.required ? ' *' : ''),
        field.description,
        input,
        view.errors
      )
    );
  }
  return h(
    'form',
    {
      className: 'jp-CoderPanel-form',
      'data-form': 'new-workspace',
      novalidate: true
    },
    h('div', { className: 'jp-CoderPanel-formTitle' }, 'New workspace'),
    labelled(
      TEMPLATE_FIELD,
      'Template',
      // verbs (issue 13): what the chosen template is for
      view.templates.find(t => t.name === view.template)?.description ?? '',
      templateSelect,
      view.errors
    ),
    parameters,
    labelled(
      NAME_FIELD,
      'Name *',
      'Letters, digits and single hyphens, at most 32.',
      h('input', {
        id: 'coder-param-__name',
        'data-param': NAME_FIELD,
        type: 'text',
        className: 'jp-mod-styled',
        value: view.name,
        placeholder: 'ml-box'
      }),
      view.errors
    ),
    labelled(
      TTL_FIELD,
      'Stop after',
      "For example 8h or 90m; empty keeps the template's default.",
      h('input', {
        id: 'coder-param-__ttl',
        'data-param': TTL_FIELD,
        type: 'text',
        className: 'jp-mod-styled',
        value: view.ttl,
        placeholder: '8h'
      }),
      view.errors
    ),
    errorSlot(FORM_ERROR, view.errors),
    h(
      'div',
      { className: 'jp-CoderPanel-formButtons' },
      h(
        'button',
        {
          type: 'submit',
          className: 'jp-mod-styled jp-mod-accept jp-CoderPanel-button',
          'data-action': 'create',
          disabled: view.submitting || view.loadingFields
        },
        view.submitting ? 'Creating…' : 'Create'
      ),
      h(
        'button',
        {
          type: 'button',
          className: 'jp-mod-styled jp-CoderPanel-button',
          'data-action': 'cancel-new'
        },
        'Cancel'
      )
    )
  );
}
