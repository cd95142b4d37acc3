import { createBody } from '../form';
import {
  applyPreset,
  findPreset,
  fixedByPreset,
  presetLabel,
  withPreset
} from '../presets';
import { IPreset } from '../types';
import { field } from './fixtures';

const cpu = field({
  name: 'cpu',
  type: 'number',
  form: 'select',
  options: [
    ['2 cores', '2'],
    ['8 cores', '8']
  ],
  default: '2'
});
const gpu = field({
  name: 'gpu',
  type: 'bool',
  form: 'checkbox',
  default: 'false'
});
const project = field({ name: 'project', required: true });
const fields = [cpu, gpu, project];

const gpuPreset: IPreset = {
  id: 'p-gpu',
  name: 'GPU',
  description: '8 cores and a GPU',
  default: false,
  prebuilt: false,
  parameters: { cpu: '8', gpu: 'true' }
};
const standard: IPreset = {
  ...gpuPreset,
  id: 'p-std',
  name: 'Standard',
  prebuilt: true,
  parameters: {}
};

describe('presets', () => {
  it('labels prebuilt presets as ready in seconds', () => {
    expect(presetLabel(standard)).toBe('Standard (prebuilt: ready in seconds)');
    expect(presetLabel(gpuPreset)).toBe('GPU');
  });

  it('finds a preset by id, and none without presets', () => {
    expect(findPreset([standard, gpuPreset], 'p-gpu')).toBe(gpuPreset);
    expect(findPreset(undefined, 'p-gpu')).toBeNull();
    expect(findPreset([standard], '')).toBeNull();
  });

  it('fills the preset parameters in each input type and keeps the rest', () => {
    const values = applyPreset(
      fields,
      { cpu: '2', gpu: false, project: 'mine' },
      gpuPreset
    );
    expect(values).toEqual({ cpu: '8', gpu: true, project: 'mine' });
    expect(applyPreset(fields, { cpu: '2' }, null)).toEqual({ cpu: '2' });
  });

  it('fixes only the preset parameters', () => {
    expect(fixedByPreset(gpuPreset, cpu)).toBe(true);
    expect(fixedByPreset(gpuPreset, project)).toBe(false);
    expect(fixedByPreset(null, cpu)).toBe(false);
  });

  it('sends the preset id with the parameters', () => {
    const state = {
      template: 'python-ds',
      name: 'box',
      ttl: '',
      values: applyPreset(fields, { project: 'mine' }, gpuPreset)
    };
    const body = withPreset(createBody(fields, state), gpuPreset);
    expect(body.preset).toBe('p-gpu');
    expect(body.parameters).toEqual({ cpu: '8', gpu: 'true', project: 'mine' });
    expect(withPreset(createBody(fields, state), null).preset).toBeUndefined();
  });
});
