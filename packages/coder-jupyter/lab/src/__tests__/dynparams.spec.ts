/** Dynamic parameters in the sidebar's form: the pure steps of following Coder's evaluation. */
import {
  FORM_ERROR,
  evaluationErrors,
  followEvaluation,
  formInputs,
  initialValue,
  validateForm
} from '../form';
import { field } from './fixtures';

const sizes = (values: string[]): [string, string][] =>
  values.map(value => [value.toUpperCase(), value]);

const region = field({
  name: 'region',
  form: 'select',
  options: sizes(['us', 'eu']),
  default: 'us'
});
const sizeInUs = field({
  name: 'instance_size',
  form: 'select',
  options: sizes(['small', 'large', 'xl']),
  default: 'small'
});
const gpu = field({
  name: 'gpu',
  type: 'bool',
  form: 'checkbox',
  default: 'false'
});

describe('dynamic parameters', () => {
  it('starts a field from Coder’s current answer, not its default', () => {
    expect(initialValue({ ...sizeInUs, value: 'xl' })).toBe('xl');
    expect(initialValue({ ...gpu, value: 'true' })).toBe(true);
    // an answer that is no option any more shows as unanswered
    const sizeInEu = { ...sizeInUs, options: sizes(['small', 'large']) };
    expect(initialValue({ ...sizeInEu, value: 'xl' })).toBe('');
  });

  it('sends every answer that holds a value, in Coder’s string form', () => {
    expect(
      formInputs([region, sizeInUs, gpu], {
        region: 'eu',
        instance_size: '',
        gpu: true
      })
    ).toEqual({ region: 'eu', gpu: 'true' });
  });

  it('keeps what was typed in fields that stay and starts revealed ones from Coder', () => {
    const gpuType = field({
      name: 'gpu_type',
      form: 'select',
      options: sizes(['t4', 'a100']),
      default: 't4',
      value: 't4'
    });
    const values = { region: 'us', instance_size: 'xl', gpu: true };
    const next = followEvaluation(
      [region, sizeInUs, gpu],
      [region, sizeInUs, gpu, gpuType],
      values
    );
    expect(next).toEqual({ ...values, gpu_type: 't4' });
    // a field whose options changed starts again from Coder's answer; a hidden one is dropped
    const sizeInEu = {
      ...sizeInUs,
      options: sizes(['small', 'large']),
      value: 'xl',
      diagnostic: 'Value must be a valid option'
    };
    expect(
      followEvaluation(
        [region, sizeInUs, gpu, gpuType],
        [region, sizeInEu, gpu],
        {
          ...next,
          region: 'eu'
        }
      )
    ).toEqual({ region: 'eu', instance_size: '', gpu: true });
  });

  it('shows Coder’s diagnostics on their fields and blocks Create with them', () => {
    const refused = { ...sizeInUs, diagnostic: 'xl is not offered in eu' };
    expect(evaluationErrors([region, refused], ['quota exceeded'])).toEqual({
      instance_size: 'xl is not offered in eu',
      [FORM_ERROR]: 'quota exceeded'
    });
    const errors = validateForm([region, refused], {
      template: 'gpu-lab',
      name: 'ok',
      ttl: '',
      values: { region: 'eu', instance_size: 'small' }
    });
    expect(errors.instance_size).toBe('xl is not offered in eu');
  });
});
