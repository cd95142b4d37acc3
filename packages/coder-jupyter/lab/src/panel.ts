/**
 * The "Coder workspaces" sidebar: a thin Lumino widget over the pure modules. One EventSource per
 * panel on `workspaces/stream`; actions through ServerConnection; confirmations with showDialog;
 * notifications with Notification.
 */
import {
  Dialog,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { CoderApi, CoderApiError } from './api';
import { h } from './dom';
import { outcomeMessage } from './format';
import {
  FieldValue,
  NAME_FIELD,
  TEMPLATE_FIELD,
  TTL_FIELD,
  createBody,
  errorsFromResponse,
  evaluationErrors,
  followEvaluation,
  formInputs,
  initialValues,
  validateForm
} from './form';
import { coderIcon } from './icon';
import { PRESET_FIELD, applyPreset, findPreset, withPreset } from './presets';
import { IChange, Outcome, RowStore, isFailure } from './rows';
import {
  ConnectionTracker,
  ReconnectPolicy,
  STREAM_EVENT_TYPES,
  parseStreamEvent,
  streamUrl
} from './stream';
import { ILogs, IRow, ITimings } from './types';
import {
  IFormView,
  readParameterInput,
  renderConnection,
  renderDetails,
  renderForm,
  renderRow
} from './view';
import { ListScope, loadingText, updateQuestion } from './updates';
import { Watchlist } from './watch';

export const PANEL_ID = 'coder-workspaces-panel';
export const PANEL_CAPTION = 'Coder workspaces';
const PINNED_KEY = 'coder-jupyter:pinned';

type RowAction = 'start' | 'stop' | 'restart';

function loadPinned(): string[] {
  try {
    const raw = window.localStorage.getItem(PINNED_KEY);
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(parsed)
      ? parsed.filter(item => typeof item === 'string')
      : [];
  } catch {
    return [];
  }
}

function messageOf(error: unknown): string {
  if (error instanceof CoderApiError) {
    const detail = error.body.detail ? ` ${error.body.detail}` : '';
    return `${error.message}${detail}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** "extend-1h" → "Extend +1h", "stop" → "Stop", "cancel-build" → "Cancel build": an action in an error. */
function actionLabel(action: string): string {
  const [verb, by] = action.split('-');
  const word = verb.charAt(0).toUpperCase() + verb.slice(1);
  if (verb === 'extend' && by) {
    return `${word} +${by}`;
  }
  return by ? `${word} ${by}` : word; // "cancel-build" → "Cancel build"
}

/** The body of the Delete dialog: type the workspace's name to confirm. */
class ConfirmNameBody extends Widget implements Dialog.IBodyWidget<string> {
  private readonly _input: HTMLInputElement;

  constructor(name: string) {
    super();
    this._input = h('input', {
      type: 'text',
      className: 'jp-mod-styled',
      'data-confirm-name': name,
      placeholder: name
    });
    this.node.append(
      h(
        'p',
        {},
        `This deletes the workspace and its disk. Type `,
        h('b', {}, name),
        ` to confirm.`
      ),
      this._input
    );
  }

  getValue(): string {
    return this._input.value;
  }
}

export class WorkspacesPanel extends Widget {
  readonly api: CoderApi;
  readonly query: string;
  private readonly _store = new RowStore();
  private readonly _watch = new Watchlist(loadPinned());
  private readonly _tracker = new ConnectionTracker();
  private readonly _policy = new ReconnectPolicy();
  private readonly _elements = new Map<string, HTMLLIElement>();
  private readonly _details = new Map<
    string,
    ILogs | 'loading' | Error | null
  >();
  // Build timings by row id, for the build they describe (a later build's details load them again).
  private readonly _timings = new Map<
    string,
    { build: number; timings: ITimings }
  >();
  private readonly _busy = new Map<string, Set<string>>();
  private readonly _connection: HTMLElement;
  private readonly _list: HTMLUListElement;
  private readonly _empty: HTMLElement;
  private readonly _formHost: HTMLElement;
  private _form: IFormView | null = null;
  // Dynamic parameters: whether the open form follows Coder's evaluation, and the latest one asked.
  private _formDynamic = false;
  private _evaluations = 0;
  private _source: EventSource | null = null;
  private _retry: number | null = null;
  private _clock: number | null = null;
  /** Your workspaces, or those shared with you (the header's "Shared with me" toggle). */
  private _scope: ListScope = 'mine';
  private readonly _sharedToggle: HTMLButtonElement;

  /** Called for each outcome the person is waiting on (tests and other plugins may listen). */
  onOutcome: ((row: IRow, outcome: Outcome) => void) | null = null;

  constructor(options: { api?: CoderApi; query?: string } = {}) {
    super();
    this.api = options.api ?? new CoderApi();
    this.query = options.query ?? 'owner:me';
    this.id = PANEL_ID;
    this.addClass('jp-CoderPanel');
    this.title.icon = coderIcon;
    this.title.caption = PANEL_CAPTION;
    this._connection = h('span', { className: 'jp-CoderPanel-connectionHost' });
    this._list = h('ul', {
      className: 'jp-CoderPanel-list',
      'data-list': 'workspaces'
    });
    this._empty = h(
      'div',
      { className: 'jp-CoderPanel-empty' },
      'Loading your workspaces…'
    );
    this._formHost = h('div', { className: 'jp-CoderPanel-formHost' });
    this._sharedToggle = h(
      'button',
      {
        type: 'button',
        className: 'jp-mod-styled jp-CoderPanel-button',
        'data-action': 'toggle-shared',
        'aria-pressed': 'false',
        title: 'List the workspaces other people shared with you'
      },
      'Shared with me'
    );
    // Offered only where Coder has workspace sharing (the shared list answers 404 elsewhere).
    this._sharedToggle.hidden = true;
    void this._probeSharing();
    this.node.append(
      h(
        'div',
        { className: 'jp-CoderPanel-header' },
        h('h2', { className: 'jp-CoderPanel-title' }, PANEL_CAPTION),
        this._connection,
        this._sharedToggle,
        h(
          'button',
          {
            type: 'button',
            className: 'jp-mod-styled jp-mod-accept jp-CoderPanel-button',
            'data-action': 'new',
            title: 'Create a workspace from a template'
          },
          'New workspace…'
        )
      ),
      this._formHost,
      this._empty,
      this._list
    );
    this._renderConnection();
    this.node.addEventListener('click', this._onClick);
    this._formHost.addEventListener('submit', this._onSubmit);
    this._formHost.addEventListener('change', this._onFormChange);
    this._clock = window.setInterval(() => this._refreshClocks(), 30000);
  }

  get connectionState(): string {
    return this._tracker.state;
  }

  /** Open the list stream (once). */
  connect(): void {
    if (this._source !== null) {
      return;
    }
    const url = streamUrl(
      this.api.settings.baseUrl,
      this.query,
      PageConfig.getToken(),
      this._scope === 'shared'
    );
    const source = new EventSource(url, { withCredentials: true });
    this._source = source;
    for (const type of STREAM_EVENT_TYPES) {
      source.addEventListener(type, event =>
        this._onStreamEvent(type, event, source)
      );
    }
  }

  private async _probeSharing(): Promise<void> {
    try {
      await this.api.rows(this.query, true);
      this._sharedToggle.hidden = false;
    } catch {
      this._sharedToggle.hidden = this._scope !== 'shared';
    }
  }

  get scope(): ListScope {
    return this._scope;
  }

  /** List your workspaces or those shared with you: a new list stream, the old rows cleared. */
  setScope(scope: ListScope): void {
    if (scope === this._scope) {
      return;
    }
    this._scope = scope;
    this._close();
    this._apply(this._store.applySnapshot([]));
    this._sharedToggle.setAttribute(
      'aria-pressed',
      scope === 'shared' ? 'true' : 'false'
    );
    this._empty.textContent = loadingText(scope);
    this.connect();
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._close();
    if (this._clock !== null) {
      window.clearInterval(this._clock);
    }
    super.dispose();
  }

  private _close(): void {
    this._source?.close();
    this._source = null;
    if (this._retry !== null) {
      window.clearTimeout(this._retry);
      this._retry = null;
    }
  }

  private _onStreamEvent(
    type: string,
    event: Event,
    source: EventSource
  ): void {
    if (source !== this._source) {
      return;
    }
    if (!(event instanceof MessageEvent) || typeof event.data !== 'string') {
      // The browser's own error event: the connection dropped. EventSource retries by itself
      // unless it closed (an HTTP error answer); then we open a new one after a delay.
      if (this._tracker.onDropped()) {
        this._renderConnection();
      }
      if (source.readyState === EventSource.CLOSED) {
        this._source = null;
        const delay = this._policy.nextDelay();
        this._retry = window.setTimeout(() => {
          this._retry = null;
          this.connect();
        }, delay);
      }
      return;
    }
    const parsed = parseStreamEvent(type, event.data);
    if (parsed === null) {
      return;
    }
    if (this._tracker.onEvent(parsed)) {
      this._renderConnection();
    }
    switch (parsed.type) {
      case 'snapshot':
        this._policy.reset();
        this._apply(this._store.applySnapshot(parsed.rows));
        break;
      case 'row':
        this._applyOne(this._store.applyRow(parsed.row));
        break;
      case 'removed':
        this._applyOne(this._store.remove(parsed.id));
        break;
      default:
        break;
    }
  }

  private _applyOne(change: IChange | null): void {
    if (change !== null) {
      this._apply([change]);
    }
  }

  /** Put a row that an action answered with into the list (the stream may be slower). */
  private _acceptRow(row: IRow | null | undefined): void {
    if (row && typeof row.id === 'string') {
      this._applyOne(this._store.applyRow(row));
    }
  }

  private _apply(changes: IChange[]): void {
    const now = new Date();
    for (const change of changes) {
      if (change.kind === 'removed') {
        this._elements.get(change.id)?.remove();
        this._elements.delete(change.id);
        this._details.delete(change.id);
      } else if (change.after !== null) {
        if (this._details.get(change.id) === null && isFailure(change.after)) {
          void this._loadLogs(change.after);
        }
        if (this._details.has(change.id)) {
          void this._loadTimings(change.after);
        }
        this._renderRow(change.after, now);
      }
      const outcome = this._watch.notice(change);
      if (outcome !== null && change.after !== null) {
        this._notify(change.after, outcome);
      }
    }
    this._order();
  }

  private _renderRow(row: IRow, now: Date): void {
    const element = renderRow(row, {
      now,
      pinned: this._watch.isPinned(row.id),
      busy: this._busy.get(row.id) ?? new Set()
    });
    if (this._details.has(row.id)) {
      const timings = this._timings.get(row.id);
      element.append(
        renderDetails(
          row,
          this._details.get(row.id) ?? null,
          timings?.build === row.build_number ? timings.timings : null
        )
      );
    }
    const old = this._elements.get(row.id);
    if (old) {
      old.replaceWith(element);
    }
    this._elements.set(row.id, element);
  }

  private _rerender(id: string): void {
    const row = this._store.get(id);
    if (row) {
      this._renderRow(row, new Date());
    }
  }

  /** Keep the list's DOM order owner-then-name, moving only what is out of place. */
  private _order(): void {
    const rows = this._store.rows();
    let previous: Element | null = null;
    for (const row of rows) {
      const element = this._elements.get(row.id);
      if (!element) {
        continue;
      }
      const expected: Element | null = previous
        ? previous.nextElementSibling
        : this._list.firstElementChild;
      if (expected !== element) {
        if (previous) {
          previous.after(element);
        } else {
          this._list.prepend(element);
        }
      }
      previous = element;
    }
    this._empty.textContent =
      rows.length > 0
        ? ''
        : this._tracker.state === 'live'
          ? this._scope === 'shared'
            ? 'Nobody has shared a workspace with you.'
            : 'No workspaces yet. Create one with New workspace….'
          : loadingText(this._scope);
    this._empty.hidden = rows.length > 0;
  }

  private _refreshClocks(): void {
    const now = new Date();
    for (const row of this._store.rows()) {
      this._renderRow(row, now);
    }
  }

  private _renderConnection(): void {
    this._connection.replaceChildren(
      renderConnection(this._tracker.state, this._tracker.reason)
    );
  }

  private _notify(row: IRow, outcome: Outcome): void {
    if (outcome === 'ready') {
      const actions: Notification.IAction[] = row.dashboard_url
        ? [
            {
              label: 'Open',
              callback: () => window.open(row.dashboard_url, '_blank')
            }
          ]
        : [];
      Notification.success(outcomeMessage(row, 'ready'), {
        autoClose: 10000,
        actions
      });
    } else {
      Notification.error(outcomeMessage(row, 'failed'), {
        autoClose: false,
        actions: [
          { label: 'Details', callback: () => this.showDetails(row.id) }
        ]
      });
    }
    this.onOutcome?.(row, outcome);
  }

  /** Open a workspace's details view (phases, startup, log) and scroll it into view. */
  showDetails(id: string): void {
    const row = this._store.get(id);
    if (!row) {
      return;
    }
    if (!this._details.has(id)) {
      this._details.set(id, null);
      void this._loadLogs(row);
      void this._loadTimings(row);
    }
    this._rerender(id);
    this._elements.get(id)?.scrollIntoView?.({ block: 'nearest' });
  }

  /** Where a settled start's time went, once per build; a failure leaves the details as they were. */
  private async _loadTimings(row: IRow): Promise<void> {
    const known = this._timings.get(row.id);
    if (
      !row.settled ||
      row.transition !== 'start' ||
      known?.build === row.build_number
    ) {
      return;
    }
    this._timings.set(row.id, {
      build: row.build_number,
      timings: { available: false, summary: '', total_seconds: 0, steps: [] }
    });
    try {
      const timings = await this.api.timings(row.id);
      this._timings.set(row.id, { build: row.build_number, timings });
    } catch {
      return;
    }
    if (this._details.has(row.id)) {
      this._rerender(row.id);
    }
  }

  private async _loadLogs(row: IRow): Promise<void> {
    if (!isFailure(row)) {
      return;
    }
    this._details.set(row.id, 'loading');
    try {
      this._details.set(row.id, await this.api.logs(row.id));
    } catch (error) {
      this._details.set(row.id, new Error(messageOf(error)));
    }
    if (this._details.has(row.id)) {
      this._rerender(row.id);
    }
  }

  private readonly _onClick = (event: MouseEvent): void => {
    const target = (event.target as Element | null)?.closest('[data-action]');
    if (!target || (target as HTMLButtonElement).disabled) {
      return;
    }
    const action = target.getAttribute('data-action') ?? '';
    if (action === 'new') {
      void this.openForm();
      return;
    }
    if (action === 'cancel-new') {
      this.closeForm();
      return;
    }
    if (action === 'toggle-shared') {
      this.setScope(this._scope === 'shared' ? 'mine' : 'shared');
      return;
    }
    const id = target
      .closest('[data-workspace-id]')
      ?.getAttribute('data-workspace-id');
    if (!id) {
      return;
    }
    void this._rowAction(id, action);
  };

  private async _rowAction(id: string, action: string): Promise<void> {
    const row = this._store.get(id);
    if (!row) {
      return;
    }
    switch (action) {
      case 'open':
        window.open(row.dashboard_url, '_blank');
        return;
      case 'details':
        if (this._details.has(id)) {
          this._details.delete(id);
          this._rerender(id);
        } else {
          this.showDetails(id);
        }
        return;
      case 'pin': {
        this._watch.togglePin(id);
        window.localStorage.setItem(
          PINNED_KEY,
          JSON.stringify(this._watch.pinned())
        );
        this._rerender(id);
        return;
      }
      case 'start':
      case 'restart':
        await this._busyWhile(id, action, async () => {
          this._watch.started(id);
          this._acceptRow(await this.api.action(id, action as RowAction));
        });
        return;
      case 'stop': {
        const answer = await showDialog({
          title: 'Stop workspace?',
          body: `Stop ${row.owner_name}/${row.name}? Unsaved work inside it is lost.`,
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop' })]
        });
        if (!answer.button.accept) {
          return;
        }
        await this._busyWhile(id, action, async () => {
          this._acceptRow(await this.api.action(id, 'stop'));
        });
        return;
      }
      case 'update': {
        const question = updateQuestion(row);
        if (question !== null) {
          const answer = await showDialog({
            title: 'Update workspace?',
            body: question,
            buttons: [
              Dialog.cancelButton(),
              Dialog.warnButton({ label: 'Update' })
            ]
          });
          if (!answer.button.accept) {
            return;
          }
        }
        await this._busyWhile(id, action, async () => {
          this._watch.started(id);
          this._acceptRow(await this.api.update(id));
        });
        return;
      }
      case 'extend-1h':
      case 'extend-2h': {
        const by = action === 'extend-1h' ? '1h' : '2h';
        await this._busyWhile(id, action, async () => {
          const reply = await this.api.extend(id, by);
          if (reply.plan?.message) {
            Notification.info(`${row.name}: ${reply.plan.message}`, {
              autoClose: 5000
            });
          }
          this._acceptRow(reply.row ?? (await this.api.row(id)));
        });
        return;
      }
      case 'rename': {
        const answer = await InputDialog.getText({
          title: `Rename ${row.owner_name}/${row.name}`,
          label: 'New name (letters, digits and hyphens; up to 32 characters)',
          text: row.name,
          okLabel: 'Rename'
        });
        const name = (answer.value ?? '').trim();
        if (!answer.button.accept || !name || name === row.name) {
          return;
        }
        await this._busyWhile(id, action, async () => {
          this._acceptRow(await this.api.rename(id, name));
        });
        return;
      }
      case 'cancel-build':
        await this._busyWhile(id, action, async () => {
          this._acceptRow(await this.api.cancelBuild(id));
        });
        return;
      case 'delete': {
        const answer = await showDialog({
          title: 'Delete workspace?',
          body: new ConfirmNameBody(row.name),
          buttons: [
            Dialog.cancelButton(),
            Dialog.warnButton({ label: 'Delete' })
          ]
        });
        if (!answer.button.accept) {
          return;
        }
        await this._busyWhile(id, action, async () => {
          this._acceptRow(await this.api.remove(id, answer.value ?? ''));
        });
        return;
      }
      default:
        return;
    }
  }

  /** Run an action with its button disabled; a failure becomes one error notification. */
  private async _busyWhile(
    id: string,
    action: string,
    work: () => Promise<void>
  ): Promise<void> {
    const busy = this._busy.get(id) ?? new Set<string>();
    busy.add(action);
    this._busy.set(id, busy);
    this._rerender(id);
    try {
      await work();
    } catch (error) {
      const name = this._store.get(id)?.name ?? id;
      Notification.error(
        `${actionLabel(action)} ${name} failed: ${messageOf(error)}`,
        {
          autoClose: false
        }
      );
    } finally {
      busy.delete(action);
      this._rerender(id);
    }
  }

  // The New workspace form.

  /** Show the form (templates loaded, the last template chosen preselected). */
  async openForm(): Promise<void> {
    if (this._form === null) {
      this._form = {
        templates: [],
        template: '',
        name: '',
        ttl: '',
        fields: null,
        values: {},
        errors: {},
        submitting: false,
        loadingFields: false
      };
    }
    this._renderForm();
    const form = this._form;
    try {
      const [templates, preferences] = await Promise.all([
        this.api.templates(),
        this.api.preferences().catch(() => ({ last_template: null }))
      ]);
      form.templates = templates;
      const last = preferences.last_template;
      if (
        !form.template &&
        last &&
        templates.some(template => template.name === last)
      ) {
        form.template = last;
        this._renderForm();
        await this._loadFields(last);
        return;
      }
    } catch (error) {
      form.errors = {
        ...form.errors,
        __form: `Templates could not be read: ${messageOf(error)}`
      };
    }
    this._renderForm();
    this.node
      .querySelector<HTMLElement>(`[data-param="${TEMPLATE_FIELD}"]`)
      ?.focus();
  }

  closeForm(): void {
    this._form = null;
    this._formHost.replaceChildren();
  }

  private _renderForm(): void {
    if (this._form === null) {
      this._formHost.replaceChildren();
      return;
    }
    this._formHost.replaceChildren(renderForm(this._form));
  }

  private async _loadFields(template: string): Promise<void> {
    const form = this._form;
    if (form === null) {
      return;
    }
    form.template = template;
    form.fields = null;
    form.presets = [];
    form.preset = '';
    form.values = {};
    form.errors = {};
    if (!template) {
      this._renderForm();
      return;
    }
    form.loadingFields = true;
    this._renderForm();
    try {
      const spec = await this.api.templateForm(template);
      if (this._form !== form || form.template !== template) {
        return;
      }
      this._readForm(); // the name and stop time typed while the fields loaded
      form.fields = spec.fields;
      form.values = initialValues(spec.fields);
      this._formDynamic = spec.dynamic === true;
      this._evaluations += 1; // an evaluation still running was for another template
      form.presets = spec.presets ?? [];
      form.preset = '';
    } catch (error) {
      form.errors = { [TEMPLATE_FIELD]: messageOf(error) };
    } finally {
      form.loadingFields = false;
    }
    this._renderForm();
  }

  /** Read the inputs into the form state (keeps what the person typed across re-renders). */
  private _readForm(): void {
    const form = this._form;
    const node = this._formHost.querySelector('form');
    if (form === null || node === null) {
      return;
    }
    const value = (name: string): string =>
      (node.querySelector(`[data-param="${name}"]`) as HTMLInputElement | null)
        ?.value ?? '';
    form.name = value(NAME_FIELD);
    form.ttl = value(TTL_FIELD);
    const values: Record<string, FieldValue> = {};
    for (const field of form.fields ?? []) {
      const input = node.querySelector(
        `[data-param="${CSS.escape(field.name)}"]`
      );
      if (input) {
        values[field.name] = readParameterInput(field, input);
      }
    }
    form.values = values;
  }

  private readonly _onFormChange = (event: Event): void => {
    const target = event.target as Element | null;
    const param = target?.getAttribute('data-param');
    if (param === TEMPLATE_FIELD) {
      this._readForm();
      void this._loadFields((target as HTMLSelectElement).value);
    } else if (param === PRESET_FIELD && this._form !== null) {
      // presets: fill in the chosen preset's values (then fixed)
      this._readForm();
      const form = this._form;
      form.preset = (target as HTMLSelectElement).value;
      const preset = findPreset(form.presets, form.preset);
      form.values = applyPreset(form.fields ?? [], form.values, preset);
      this._renderForm();
      if (this._formDynamic) {
        void this._reevaluate(); // the preset's values feed the dynamic form's inputs
      }
    } else if (
      this._formDynamic &&
      param &&
      (this._form?.fields ?? []).some(field => field.name === param)
    ) {
      this._readForm();
      void this._reevaluate();
    }
  };

  /** Dynamic parameters: an answer changed, so Coder evaluates the form again; the latest answer wins. */
  private async _reevaluate(): Promise<void> {
    const form = this._form;
    if (form === null || form.fields === null) {
      return;
    }
    const generation = ++this._evaluations;
    const template = form.template;
    const asked = form.fields;
    try {
      // a preset's values are fixed answers, also for fields Coder has not revealed yet
      const preset = findPreset(form.presets, form.preset ?? '');
      const spec = await this.api.evaluateForm(template, {
        ...formInputs(asked, form.values),
        ...(preset?.parameters ?? {})
      });
      if (
        this._form !== form ||
        form.template !== template ||
        generation !== this._evaluations
      ) {
        return;
      }
      this._readForm(); // what was typed meanwhile
      form.values = followEvaluation(asked, spec.fields, form.values);
      form.fields = spec.fields;
      form.errors = evaluationErrors(spec.fields, spec.problems);
    } catch (error) {
      form.errors = { ...form.errors, __form: messageOf(error) };
    }
    this._renderForm();
  }

  private readonly _onSubmit = (event: Event): void => {
    event.preventDefault();
    void this.submitForm();
  };

  /** Check the form, create the workspace, and follow it in the list. */
  async submitForm(): Promise<void> {
    const form = this._form;
    if (form === null || form.submitting) {
      return;
    }
    this._readForm();
    const fields = form.fields ?? [];
    const state = {
      template: form.template,
      name: form.name,
      ttl: form.ttl,
      values: form.values
    };
    form.errors = validateForm(fields, state);
    if (Object.keys(form.errors).length > 0) {
      this._renderForm();
      return;
    }
    form.submitting = true;
    this._renderForm();
    try {
      const created = await this.api.create(
        withPreset(
          createBody(fields, state),
          findPreset(form.presets, form.preset ?? '')
        )
      );
      this._watch.started(created.id);
      // Show its progress: the details view (phase timeline) opens with the row.
      this._details.set(created.id, null);
      void this.api
        .savePreferences({ last_template: form.template })
        .catch(() => undefined);
      this.closeForm();
      Notification.info(`Creating workspace ${created.name}…`, {
        autoClose: 4000
      });
      try {
        this._acceptRow(await this.api.row(created.id));
      } catch {
        // the stream's next sweep brings it
      }
      this._elements.get(created.id)?.scrollIntoView?.({ block: 'nearest' });
    } catch (error) {
      form.submitting = false;
      form.errors =
        error instanceof CoderApiError
          ? errorsFromResponse(
              error.body,
              fields.map(field => field.name)
            )
          : { __form: messageOf(error) };
      this._renderForm();
    }
  }
}
