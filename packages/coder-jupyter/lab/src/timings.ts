/**
 * "Where the time went" in a row's details: the summary of a start's build timings and every step.
 * Pure DOM from plain data (jest renders it in jsdom); the reading of Coder's timings is the server's.
 */
import { h } from './dom';
import { ITimings } from './types';

/** The details' timings section; null when there is nothing to show (no timings, or Coder < 2.17). */
export function renderTimings(
  timings: ITimings | null | undefined
): HTMLElement | null {
  if (!timings || !timings.available || !timings.summary) {
    return null;
  }
  return h(
    'div',
    { className: 'jp-CoderPanel-timings', 'data-field': 'timings' },
    h(
      'div',
      { className: 'jp-CoderPanel-detailsTitle' },
      'Where the time went'
    ),
    h(
      'div',
      {
        className: 'jp-CoderPanel-timingsSummary',
        'data-field': 'timings-summary'
      },
      timings.summary
    ),
    h(
      'ol',
      { className: 'jp-CoderPanel-timingSteps' },
      timings.steps.map(step =>
        h(
          'li',
          {
            className: `jp-CoderPanel-timingStep${step.failed ? ' jp-mod-failed' : ''}`,
            'data-step': step.name,
            'data-kind': step.kind,
            title: `${Math.round(step.share * 100)}% of the start`
          },
          step.text
        )
      )
    )
  );
}
