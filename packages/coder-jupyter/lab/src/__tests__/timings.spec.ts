/**
 * @jest-environment jsdom
 */
import { renderTimings } from '../timings';
import { ITimings } from '../types';
import { renderDetails } from '../view';
import { row } from './fixtures';

const timings: ITimings = {
  available: true,
  summary: 'Install requirements 1.2s (exit 1), Terraform plan 0.9s of 4.1s',
  total_seconds: 4.1,
  steps: [
    {
      name: 'Terraform plan',
      kind: 'provisioner',
      stage: 'plan',
      seconds: 0.9,
      share: 0.22,
      exit_code: null,
      status: '',
      failed: false,
      text: 'Terraform plan 0.9s'
    },
    {
      name: 'Install requirements',
      kind: 'script',
      stage: 'start',
      seconds: 1.2,
      share: 0.29,
      exit_code: 1,
      status: 'exit_failure',
      failed: true,
      text: 'Install requirements 1.2s (exit 1)'
    }
  ]
};

describe('renderTimings', () => {
  it('shows the summary and every step, the failed one marked', () => {
    const element = renderTimings(timings);
    expect(element).not.toBeNull();
    expect(
      element?.querySelector('[data-field="timings-summary"]')?.textContent
    ).toBe(timings.summary);
    const steps = Array.from(element?.querySelectorAll('li') ?? []);
    expect(steps.map(step => step.textContent)).toEqual([
      'Terraform plan 0.9s',
      'Install requirements 1.2s (exit 1)'
    ]);
    expect(steps[1].classList.contains('jp-mod-failed')).toBe(true);
    expect(steps[0].getAttribute('title')).toBe('22% of the start');
  });

  it('shows nothing without timings (Coder before 2.17)', () => {
    expect(renderTimings(null)).toBeNull();
    expect(
      renderTimings({
        available: false,
        summary: '',
        total_seconds: 0,
        steps: []
      })
    ).toBeNull();
  });

  it('sits in the row details only when there are timings', () => {
    const withTimings = renderDetails(row(), null, timings);
    expect(withTimings.querySelector('[data-field="timings"]')).not.toBeNull();
    const without = renderDetails(row(), null);
    expect(without.querySelector('[data-field="timings"]')).toBeNull();
  });
});
