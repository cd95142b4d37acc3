import { RowStore, compareRows, isOlder, outcomeOf } from '../rows';
import { Watchlist } from '../watch';
import { row } from './fixtures';

describe('RowStore', () => {
  it('reports a snapshot as added rows, sorted by owner then name', () => {
    const store = new RowStore();
    const changes = store.applySnapshot([
      row({ id: 'b', name: 'zeta', owner_name: 'alice' }),
      row({ id: 'a', name: 'Alpha', owner_name: 'alice' }),
      row({ id: 'c', name: 'aaa', owner_name: 'bob' })
    ]);
    expect(changes.map(c => c.kind)).toEqual(['added', 'added', 'added']);
    expect(store.rows().map(r => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('a second snapshot removes what is gone and skips what is unchanged', () => {
    const store = new RowStore();
    store.applySnapshot([row({ id: 'a' }), row({ id: 'b' })]);
    const changes = store.applySnapshot([row({ id: 'a' })]);
    expect(changes).toEqual([
      { kind: 'removed', id: 'b', before: row({ id: 'b' }), after: null }
    ]);
    expect(store.size).toBe(1);
  });

  it('a row event changes one row; the same row again changes nothing', () => {
    const store = new RowStore();
    store.applySnapshot([row()]);
    const stopping = row({
      stage: 'stopping',
      updated_at: '2026-12-03T13:00:00Z'
    });
    expect(store.applyRow(stopping)?.kind).toBe('changed');
    expect(store.applyRow(stopping)).toBeNull();
    expect(store.get('ws-1')?.stage).toBe('stopping');
  });

  it('ignores a row older than the one it has (an action reply after the stream moved on)', () => {
    const store = new RowStore();
    store.applySnapshot([row({ build_number: 5, stage: 'building' })]);
    expect(store.applyRow(row({ build_number: 4, stage: 'ready' }))).toBeNull();
    expect(
      store.applyRow(
        row({
          build_number: 5,
          stage: 'queued',
          updated_at: '2026-12-03T11:00:00Z'
        })
      )
    ).toBeNull();
    expect(store.get('ws-1')?.stage).toBe('building');
  });

  it('removing an unknown id is no change', () => {
    expect(new RowStore().remove('nope')).toBeNull();
  });
});

describe('isOlder and compareRows', () => {
  it('compares builds first, then update times; unparsable times never count as older', () => {
    expect(isOlder(row({ build_number: 1 }), row({ build_number: 2 }))).toBe(
      true
    );
    expect(isOlder(row({ updated_at: 'x' }), row())).toBe(false);
  });

  it('sorts case-insensitively', () => {
    expect(compareRows(row({ name: 'b' }), row({ name: 'A' }))).toBeGreaterThan(
      0
    );
  });
});

describe('outcomeOf', () => {
  const building = row({
    stage: 'building',
    settled: false,
    usable: false,
    build_number: 4
  });

  it('is ready once when a build becomes ready', () => {
    const ready = row({ build_number: 4 });
    expect(outcomeOf(building, ready)).toBe('ready');
    expect(
      outcomeOf(ready, { ...ready, deadline: '2026-12-03T17:00:00Z' })
    ).toBeNull();
  });

  it('is failed for start_error, start_timeout and build_failed', () => {
    for (const stage of ['start_error', 'start_timeout', 'build_failed']) {
      expect(
        outcomeOf(building, row({ stage, failed: true, build_number: 4 }))
      ).toBe('failed');
    }
  });

  it('tells a new build that fails again', () => {
    const failed3 = row({
      stage: 'build_failed',
      failed: true,
      build_number: 3
    });
    const failed4 = row({
      stage: 'build_failed',
      failed: true,
      build_number: 4
    });
    expect(outcomeOf(failed3, failed4)).toBe('failed');
    expect(outcomeOf(failed4, { ...failed4, updated_at: 'later' })).toBeNull();
  });

  it('says nothing about a row seen for the first time, or one removed', () => {
    expect(outcomeOf(null, row())).toBeNull();
    expect(outcomeOf(row(), null)).toBeNull();
  });
});

describe('Watchlist', () => {
  const stopped = row({ stage: 'stopped', status: 'stopped', build_number: 2 });
  const ready = row({ build_number: 3 });

  it('tells the outcome of a start once, and nothing for workspaces nobody waits on', () => {
    const watch = new Watchlist();
    expect(
      watch.notice({
        kind: 'changed',
        id: 'ws-1',
        before: stopped,
        after: ready
      })
    ).toBeNull();
    watch.started('ws-1');
    expect(
      watch.notice({
        kind: 'changed',
        id: 'ws-1',
        before: stopped,
        after: ready
      })
    ).toBe('ready');
    expect(
      watch.notice({
        kind: 'changed',
        id: 'ws-1',
        before: stopped,
        after: ready
      })
    ).toBeNull();
  });

  it('tells a created workspace whose first row is already settled', () => {
    const watch = new Watchlist();
    watch.started('ws-1');
    expect(
      watch.notice({ kind: 'added', id: 'ws-1', before: null, after: ready })
    ).toBe('ready');
  });

  it('keeps telling pinned workspaces, and forgets a start when the workspace is removed', () => {
    const watch = new Watchlist(['ws-1']);
    expect(watch.isPinned('ws-1')).toBe(true);
    expect(
      watch.notice({
        kind: 'changed',
        id: 'ws-1',
        before: stopped,
        after: ready
      })
    ).toBe('ready');
    expect(
      watch.notice({
        kind: 'changed',
        id: 'ws-1',
        before: stopped,
        after: ready
      })
    ).toBe('ready');
    expect(watch.togglePin('ws-1')).toBe(false);
    watch.started('ws-1');
    expect(
      watch.notice({ kind: 'removed', id: 'ws-1', before: ready, after: null })
    ).toBeNull();
    expect(watch.isWatched('ws-1')).toBe(false);
    expect(watch.togglePin('ws-2')).toBe(true);
    expect(watch.pinned()).toEqual(['ws-2']);
  });
});
