import {
  FORM_ERROR,
  NAME_FIELD,
  TEMPLATE_FIELD,
  TTL_FIELD,
  checkValue,
  createBody,
  durationError,
  encodeValue,
  errorsFromResponse,
  fieldOfValidation,
  initialValue,
  initialValues,
  validateForm,
  workspaceNameError
} from '../form';
import { field } from './fixtures';

const size = field({
  name: 'size',
  display_name: 'Size',
  form: 'select',
  options: [
    ['Small', 'small'],
    ['Large', 'large']
  ],
  default: 'small',
  required: true
});
const cores = field({
  name: 'cores',
  type: 'number',
  form: 'number',
  min: 1,
  max: 8,
  default: '2'
});
const gpu = field({
  name: 'gpu',
  type: 'bool',
  form: 'checkbox',
  default: 'false'
});
const tags = field({
  name: 'tags',
  type: 'list(string)',
  form: 'tags',
  default: '["a"]'
});
const repo = field({
  name: 'repo',
  display_name: 'Repository',
  regex: '^https://',
  error: '{value} is not an https URL'
});

describe('initial values', () => {
  it('holds each default in its input type', () => {
    expect(initialValues([size, cores, gpu, tags, repo])).toEqual({
      size: 'small',
      cores: '2',
      gpu: false,
      tags: ['a'],
      repo: ''
    });
  });

  it('a required choice without a valid default takes the first option; an optional one none', () => {
    expect(initialValue({ ...size, default: 'huge' })).toBe('small');
    expect(initialValue({ ...size, default: 'huge', required: false })).toBe(
      ''
    );
    expect(initialValue({ ...tags, default: 'not json' })).toEqual([
      'not json'
    ]);
    expect(initialValue({ ...tags, default: '' })).toEqual([]);
  });
});

describe('encodeValue and checkValue (the rules of coder_client.ParameterField)', () => {
  it('encodes in Coder string form', () => {
    expect(encodeValue(gpu, true)).toEqual({ value: 'true' });
    expect(encodeValue(gpu, ' FALSE ')).toEqual({ value: 'false' });
    expect(encodeValue(cores, '4.0')).toEqual({ value: '4' });
    expect(encodeValue(cores, '1.5')).toEqual({ value: '1.5' });
    expect(encodeValue(tags, ['x', 'y'])).toEqual({ value: '["x","y"]' });
    expect(encodeValue(tags, '["x"]')).toEqual({ value: '["x"]' });
    expect(encodeValue(repo, '  https://x  ')).toEqual({ value: 'https://x' });
  });

  it('names the field and what was expected', () => {
    expect(encodeValue(gpu, 'maybe')).toEqual({
      error: 'gpu must be true or false.'
    });
    expect(checkValue(cores, 'four')).toBe(
      'gpu must be a number, not "four".'.replace('gpu', 'cores')
    );
    expect(checkValue(tags, '{"a": 1}')).toBe(
      'tags must be a list of strings such as ["a", "b"].'
    );
    expect(checkValue(repo, ['x'])).toBe('Repository must be text.');
  });

  it('checks bounds, options and regex, with the template own words when it has them', () => {
    expect(checkValue(cores, '0')).toBe('cores must be at least 1.');
    expect(checkValue(cores, '9')).toBe('cores must be at most 8.');
    expect(
      checkValue(
        { ...cores, error: 'Between {min} and {max}, not {value}' },
        '9'
      )
    ).toBe('Between 1 and 8, not 9');
    expect(checkValue(cores, '')).toBeNull();
    expect(checkValue(size, 'medium')).toBe('Choose one of: small, large.');
    expect(
      checkValue({ ...tags, options: [['A', 'a']], form: 'multi-select' }, [
        'a',
        'b',
        'c'
      ])
    ).toBe('Not an option: b, c. Choose from: a.');
    expect(checkValue(repo, 'http://x')).toBe('http://x is not an https URL');
    expect(checkValue({ ...repo, error: null }, 'http://x')).toBe(
      'Repository must match ^https://.'
    );
    expect(checkValue({ ...repo, regex: '(?P<x>a)' }, 'b')).toBeNull();
  });

  it('a required parameter without default needs a value', () => {
    const required = field({ name: 'region', required: true });
    expect(checkValue({ ...required, display_name: 'Region' }, '')).toBe(
      'Region is required.'
    );
    expect(checkValue({ ...required, default: 'eu' }, '')).toBeNull();
  });
});

describe('workspace names and durations', () => {
  it('follows coder_client.workspace_name_error', () => {
    expect(workspaceNameError('ml-box-2')).toBeNull();
    expect(workspaceNameError('')).toMatch(/^Give the workspace a name/);
    expect(workspaceNameError('a--b')).toMatch(/not a valid workspace name/);
    expect(workspaceNameError('x'.repeat(33))).toMatch(/at most 32 characters/);
  });

  it('follows coder_client.parse_duration', () => {
    for (const ok of ['', '8h', '90m', '2h30m', '1.5h', '90', ' 1h 30m ']) {
      expect(durationError(ok)).toBeNull();
    }
    expect(durationError('2d')).toMatch(/there is no d unit/);
    expect(durationError('soon')).toMatch(/is not a duration/);
    expect(durationError('8h!')).toMatch(/is not a duration/);
  });
});

describe('the whole form', () => {
  const fields = [size, cores, gpu, repo];
  const state = {
    template: 'python-ds',
    name: 'ml-box',
    ttl: '',
    values: { size: 'large', cores: '', gpu: true, repo: '' }
  };

  it('finds every problem, keyed by data-param name', () => {
    expect(
      validateForm(fields, {
        template: '',
        name: 'bad name',
        ttl: '3d',
        values: { cores: '99', repo: 'ftp://x' }
      })
    ).toEqual({
      [TEMPLATE_FIELD]: 'Choose a template.',
      [NAME_FIELD]: expect.stringMatching(/not a valid workspace name/),
      [TTL_FIELD]: expect.stringMatching(/there is no d unit/),
      cores: 'cores must be at most 8.',
      repo: 'ftp://x is not an https URL'
    });
    expect(validateForm(fields, state)).toEqual({});
  });

  it('sends Coder strings, leaving out empty optional values', () => {
    expect(createBody(fields, { ...state, ttl: ' 8h ' })).toEqual({
      name: 'ml-box',
      template: 'python-ds',
      parameters: { size: 'large', gpu: 'true' },
      ttl: '8h'
    });
    expect(createBody(fields, state).ttl).toBeUndefined();
  });
});

describe('server validations back onto fields', () => {
  const names = ['size', 'cores'];

  it('maps our routes and Coder field names', () => {
    expect(fieldOfValidation({ field: 'cores', detail: '' }, names)).toBe(
      'cores'
    );
    expect(
      fieldOfValidation({ field: 'parameters.size', detail: '' }, names)
    ).toBe('size');
    expect(fieldOfValidation({ field: 'name', detail: '' }, names)).toBe(
      NAME_FIELD
    );
    expect(fieldOfValidation({ field: 'ttl_ms', detail: '' }, names)).toBe(
      TTL_FIELD
    );
    expect(fieldOfValidation({ field: 'template_id', detail: '' }, names)).toBe(
      TEMPLATE_FIELD
    );
    expect(fieldOfValidation({ field: 'mystery', detail: '' }, names)).toBe(
      FORM_ERROR
    );
  });

  it('joins several problems of a field, and falls back to the message', () => {
    expect(
      errorsFromResponse(
        {
          message: 'Invalid',
          validations: [
            { field: 'cores', detail: 'Too many.' },
            { field: 'cores', detail: 'Odd.' },
            { field: 'mystery', detail: 'Hm.' }
          ]
        },
        names
      )
    ).toEqual({ cores: 'Too many. Odd.', [FORM_ERROR]: 'mystery: Hm.' });
    expect(
      errorsFromResponse({ message: 'Workspace name is taken.' }, names)
    ).toEqual({
      [FORM_ERROR]: 'Workspace name is taken.'
    });
    expect(errorsFromResponse({ message: '' }, names)).toEqual({
      [FORM_ERROR]: 'Coder refused to create the workspace.'
    });
  });
});
