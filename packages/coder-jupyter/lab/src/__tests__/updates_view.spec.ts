/**
 * @jest-environment jsdom
 */
import { renderRow } from '../view';
import { row } from './fixtures';

const options = {
  now: new Date('2026-12-03T14:00:00Z'),
  pinned: false,
  busy: new Set<string>()
};

describe('the Update action on a row', () => {
  it('an outdated row the server marked updatable shows Update and "(outdated)"', () => {
    const element = renderRow(
      row({ outdated: true, can_update: true }),
      options
    );
    const update = element.querySelector<HTMLButtonElement>(
      '[data-action="update"]'
    );
    expect(update?.textContent).toBe('Update');
    expect(update?.disabled).toBe(false);
    expect(
      element.querySelector('[data-field="template"]')?.textContent
    ).toContain('(outdated)');
  });

  it('is disabled while the update is on its way', () => {
    const element = renderRow(row({ outdated: true, can_update: true }), {
      ...options,
      busy: new Set(['update'])
    });
    expect(
      element.querySelector<HTMLButtonElement>('[data-action="update"]')
        ?.disabled
    ).toBe(true);
  });

  it('no Update where Coder does not offer it (e.g. v0.25) or nothing is newer', () => {
    for (const r of [row({ outdated: true, can_update: false }), row()]) {
      expect(
        renderRow(r, options).querySelector('[data-action="update"]')
      ).toBeNull();
    }
  });
});
