/**
 * The "New workspace…" form as pure state: initial values from the template's parameter fields,
 * the same checks coder_client.ParameterField applies (so a bad value is caught before a build is
 * queued), Coder's string encoding, and the server's `validations` mapped back onto fields.
 */
import { ICreateBody, IErrorBody, IParameterField, IValidation } from './types';

export type FieldValue = string | boolean | string[];

/** The form's own fields, beside the template's parameters (their `data-param` names). */
export const NAME_FIELD = '__name';
export const TTL_FIELD = '__ttl';
export const TEMPLATE_FIELD = '__template';
/** Errors that belong to no field. */
export const FORM_ERROR = '__form';

const LIST = 'list(string)';
const MAX_NAME_LENGTH = 32;
const NAME_RE = /^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$/;
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)/y;
const BARE_NUMBER = /^\d+(?:\.\d+)?$/;

export function fieldLabel(field: IParameterField): string {
  return field.display_name || field.name;
}

function optionValues(field: IParameterField): string[] {
  return field.options.map(([, value]) => value);
}

function decodeList(text: string): string[] {
  if (!text) {
    return [];
  }
  try {
    const decoded: unknown = JSON.parse(text);
    return Array.isArray(decoded) ? decoded.map(String) : [String(decoded)];
  } catch {
    return [text];
  }
}

/**
 * The current answer (dynamic parameters), else the default, in the type the field's input holds
 * (boolean, list of strings, or text).
 */
export function initialValue(field: IParameterField): FieldValue {
  const current =
    field.value !== undefined && field.value !== null
      ? field.value
      : field.default;
  if (field.form === 'checkbox') {
    return current.trim().toLowerCase() === 'true';
  }
  if (field.type === LIST) {
    return decodeList(current);
  }
  if (field.form === 'select' || field.form === 'radio') {
    const values = optionValues(field);
    if (values.includes(current)) {
      return current;
    }
    return values.length > 0 && field.required && current === field.default
      ? values[0]
      : '';
  }
  return current;
}

export function initialValues(
  fields: IParameterField[]
): Record<string, FieldValue> {
  const values: Record<string, FieldValue> = {};
  for (const field of fields) {
    values[field.name] = initialValue(field);
  }
  return values;
}

type Encoded = { value: string } | { error: string };

/** A number as Coder's decimal text: 4, 1.5 (JavaScript already drops a trailing .0). */
function plain(number: number): string {
  return String(number);
}

/** The value in Coder's string form, or a sentence naming the field and what was expected. */
export function encodeValue(
  field: IParameterField,
  value: FieldValue
): Encoded {
  const label = fieldLabel(field);
  if (field.type === 'bool') {
    if (typeof value === 'boolean') {
      return { value: value ? 'true' : 'false' };
    }
    if (
      typeof value === 'string' &&
      ['true', 'false'].includes(value.trim().toLowerCase())
    ) {
      return { value: value.trim().toLowerCase() };
    }
    return { error: `${label} must be true or false.` };
  }
  if (field.type === 'number') {
    if (typeof value !== 'string') {
      return { error: `${label} must be a number.` };
    }
    const text = value.trim();
    if (text === '') {
      return { value: '' };
    }
    const number = Number(text);
    if (!Number.isFinite(number)) {
      return {
        error: `${label} must be a number, not ${JSON.stringify(value)}.`
      };
    }
    return { value: plain(number) };
  }
  if (field.type === LIST) {
    let items: unknown = value;
    if (typeof value === 'string') {
      try {
        items = value.trim() ? JSON.parse(value) : [];
      } catch {
        items = null;
      }
    }
    if (
      !Array.isArray(items) ||
      !items.every(item => typeof item === 'string')
    ) {
      return {
        error: `${label} must be a list of strings such as ["a", "b"].`
      };
    }
    return { value: JSON.stringify(items) };
  }
  if (typeof value !== 'string') {
    return { error: `${label} must be text.` };
  }
  return { value: value.trim() };
}

function isEmpty(field: IParameterField, encoded: string): boolean {
  return field.type === LIST
    ? encoded === '' || encoded === '[]'
    : encoded === '';
}

function ownWords(field: IParameterField, value: string): string | null {
  if (!field.error) {
    return null;
  }
  return field.error
    .replace('{min}', field.min !== null ? plain(field.min) : '')
    .replace('{max}', field.max !== null ? plain(field.max) : '')
    .replace('{value}', value);
}

/** Why Coder would refuse the value, in one sentence; null when it would accept it. */
export function checkValue(
  field: IParameterField,
  value: FieldValue
): string | null {
  const encoded = encodeValue(field, value);
  if ('error' in encoded) {
    return encoded.error;
  }
  const text = encoded.value;
  const label = fieldLabel(field);
  if (isEmpty(field, text)) {
    return field.required && !field.default ? `${label} is required.` : null;
  }
  const allowed = optionValues(field);
  if (allowed.length > 0) {
    const chosen: string[] = field.type === LIST ? JSON.parse(text) : [text];
    const wrong = chosen.filter(item => !allowed.includes(item));
    if (wrong.length === 0) {
      return null;
    }
    if (field.type === LIST) {
      return `Not an option: ${wrong.join(', ')}. Choose from: ${allowed.join(', ')}.`;
    }
    return `Choose one of: ${allowed.join(', ')}.`;
  }
  if (field.type === 'number') {
    const number = Number(text);
    if (field.min !== null && number < field.min) {
      return (
        ownWords(field, text) ??
        `${label} must be at least ${plain(field.min)}.`
      );
    }
    if (field.max !== null && number > field.max) {
      return (
        ownWords(field, text) ?? `${label} must be at most ${plain(field.max)}.`
      );
    }
    return null;
  }
  if (field.type === 'string' && field.regex) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(field.regex);
    } catch {
      return null; // Go's regexp syntax JavaScript lacks: the server decides
    }
    if (!pattern.test(text)) {
      return ownWords(field, text) ?? `${label} must match ${field.regex}.`;
    }
  }
  return null;
}

/** coder_client.workspace_name_error, in TypeScript. */
export function workspaceNameError(name: string): string | null {
  if (!name) {
    return 'Give the workspace a name (letters, digits and hyphens, for example ml-box).';
  }
  if (name.length > MAX_NAME_LENGTH) {
    return `Names are at most ${MAX_NAME_LENGTH} characters; '${name}' has ${name.length}. Choose a shorter one.`;
  }
  if (!NAME_RE.test(name)) {
    return `'${name}' is not a valid workspace name: use letters, digits and single hyphens between them (for example ml-box-2).`;
  }
  return null;
}

/** coder_client.parse_duration's grammar: "8h", "90m", "2h30m", "1.5h", a bare number of minutes. */
export function durationError(text: string): string | null {
  const cleaned = text.trim().replace(/ /g, '');
  if (cleaned === '' || BARE_NUMBER.test(cleaned)) {
    return null;
  }
  let position = 0;
  DURATION_PART.lastIndex = 0;
  for (;;) {
    DURATION_PART.lastIndex = position;
    const match = DURATION_PART.exec(cleaned);
    if (match === null) {
      break;
    }
    position = DURATION_PART.lastIndex;
  }
  if (position === cleaned.length) {
    return null;
  }
  const hint = cleaned.toLowerCase().includes('d')
    ? ' (there is no d unit; for days use 48h)'
    : '';
  return `'${text}' is not a duration${hint}: write it like 90m, 2h30m or 1.5h.`;
}

export interface IFormState {
  template: string;
  name: string;
  ttl: string;
  values: Record<string, FieldValue>;
}

/** Every problem the browser can see before sending, keyed by `data-param` name. */
export function validateForm(
  fields: IParameterField[],
  state: IFormState
): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!state.template) {
    errors[TEMPLATE_FIELD] = 'Choose a template.';
  }
  const nameProblem = workspaceNameError(state.name.trim());
  if (nameProblem) {
    errors[NAME_FIELD] = nameProblem;
  }
  const ttlProblem = durationError(state.ttl);
  if (ttlProblem) {
    errors[TTL_FIELD] = ttlProblem;
  }
  for (const field of fields) {
    const value = state.values[field.name] ?? initialValue(field);
    const problem = field.diagnostic || checkValue(field, value);
    if (problem) {
      errors[field.name] = problem;
    }
  }
  return errors;
}

// Dynamic parameters: the form follows Coder's evaluation of the answers so far.

/** The answers that hold a value, in Coder's string form: what Coder evaluates the form for. */
export function formInputs(
  fields: IParameterField[],
  values: Record<string, FieldValue>
): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (value === undefined) {
      continue;
    }
    const encoded = encodeValue(field, value);
    if ('value' in encoded && !isEmpty(field, encoded.value)) {
      inputs[field.name] = encoded.value;
    }
  }
  return inputs;
}

function sameInput(a: IParameterField, b: IParameterField): boolean {
  return (
    a.form === b.form &&
    a.type === b.type &&
    JSON.stringify(a.options) === JSON.stringify(b.options)
  );
}

/**
 * The values for the newly evaluated fields: a field that stays (same kind of input, same options)
 * keeps what was typed; a new or changed one starts from Coder's current answer.
 */
export function followEvaluation(
  previous: IParameterField[],
  next: IParameterField[],
  values: Record<string, FieldValue>
): Record<string, FieldValue> {
  const before = new Map(previous.map(field => [field.name, field]));
  const followed: Record<string, FieldValue> = {};
  for (const field of next) {
    const old = before.get(field.name);
    const kept = values[field.name];
    followed[field.name] =
      old !== undefined && kept !== undefined && sameInput(old, field)
        ? kept
        : initialValue(field);
  }
  return followed;
}

/** Coder's diagnostics as the form's errors: on their fields, the form's own under `__form`. */
export function evaluationErrors(
  fields: IParameterField[],
  problems: string[] = []
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) {
    if (field.diagnostic) {
      errors[field.name] = field.diagnostic;
    }
  }
  if (problems.length > 0) {
    errors[FORM_ERROR] = problems.join(' ');
  }
  return errors;
}

/**
 * The body of `POST workspaces`. Like the notebook launcher, an empty number or choice is left out
 * (the template's default applies), and so is an empty optional text.
 */
export function createBody(
  fields: IParameterField[],
  state: IFormState
): ICreateBody {
  const parameters: Record<string, string> = {};
  for (const field of fields) {
    const value = state.values[field.name] ?? initialValue(field);
    const encoded = encodeValue(field, value);
    if ('error' in encoded) {
      continue;
    }
    if (isEmpty(field, encoded.value) && !field.required) {
      continue;
    }
    parameters[field.name] = encoded.value;
  }
  const body: ICreateBody = {
    name: state.name.trim(),
    template: state.template,
    parameters
  };
  if (state.ttl.trim()) {
    body.ttl = state.ttl.trim();
  }
  return body;
}

/**
 * Map one server validation onto the form: our routes name fields like `name`, `ttl`, `template`,
 * `parameters.<name>`; Coder names a parameter by its own name.
 */
export function fieldOfValidation(
  validation: IValidation,
  fieldNames: string[]
): string {
  const field = validation.field || '';
  if (fieldNames.includes(field)) {
    return field;
  }
  const parameter = field.replace(/^(parameters|rich_parameter_values)\.?/, '');
  if (parameter !== field && fieldNames.includes(parameter)) {
    return parameter;
  }
  if (field === 'name') {
    return NAME_FIELD;
  }
  if (field === 'ttl' || field === 'ttl_ms') {
    return TTL_FIELD;
  }
  if (
    [
      'template',
      'template_id',
      'template_name',
      'template_version_id'
    ].includes(field)
  ) {
    return TEMPLATE_FIELD;
  }
  return FORM_ERROR;
}

/** An error answer of `POST workspaces` as per-field messages (plus `__form` for the rest). */
export function errorsFromResponse(
  body: IErrorBody,
  fieldNames: string[]
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const validation of body.validations ?? []) {
    const key = fieldOfValidation(validation, fieldNames);
    const detail =
      key === FORM_ERROR && validation.field
        ? `${validation.field}: ${validation.detail}`
        : validation.detail;
    errors[key] = errors[key] ? `${errors[key]} ${detail}` : detail;
  }
  if (Object.keys(errors).length === 0) {
    errors[FORM_ERROR] =
      body.message || 'Coder refused to create the workspace.';
  }
  return errors;
}
