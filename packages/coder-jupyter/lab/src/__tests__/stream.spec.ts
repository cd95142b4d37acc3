import {
  ConnectionTracker,
  ReconnectPolicy,
  parseStreamEvent,
  streamUrl
} from '../stream';
import { row } from './fixtures';

describe('parseStreamEvent', () => {
  it('reads a snapshot, keeping only rows with an id and name', () => {
    const data = JSON.stringify({
      rows: [row(), { id: '' }, { name: 'x' }, 7]
    });
    const event = parseStreamEvent('snapshot', data);
    expect(event?.type).toBe('snapshot');
    expect(
      event && event.type === 'snapshot' ? event.rows.map(r => r.id) : []
    ).toEqual(['ws-1']);
  });

  it('reads a row, filling what an older server leaves out', () => {
    const event = parseStreamEvent(
      'row',
      JSON.stringify({ id: 'a', name: 'b' })
    );
    expect(event).toMatchObject({
      type: 'row',
      row: {
        id: 'a',
        name: 'b',
        phases: [],
        deadline: null,
        build_number: 0,
        failed: false
      }
    });
  });

  it('reads removed and error events', () => {
    expect(parseStreamEvent('removed', '{"id":"ws-1"}')).toEqual({
      type: 'removed',
      id: 'ws-1'
    });
    expect(parseStreamEvent('error', '{"message":"Coder is down"}')).toEqual({
      type: 'error',
      error: { message: 'Coder is down' }
    });
    expect(parseStreamEvent('error', '{}')).toEqual({
      type: 'error',
      error: { message: 'Coder is unreachable.' }
    });
  });

  it('ignores what it does not know or cannot read', () => {
    expect(parseStreamEvent('row', 'not json')).toBeNull();
    expect(parseStreamEvent('row', '{"id": 3}')).toBeNull();
    expect(parseStreamEvent('snapshot', '{"rows": {}}')).toBeNull();
    expect(parseStreamEvent('removed', '{}')).toBeNull();
    expect(parseStreamEvent('lifecycle', '{}')).toBeNull();
  });
});

describe('streamUrl', () => {
  it('puts the query and the token (when there is one) in the URL', () => {
    expect(streamUrl('http://h/a%40b/', 'owner:me', 'tok')).toBe(
      'http://h/a%40b/coder/api/workspaces/stream?q=owner%3Ame&token=tok'
    );
    expect(streamUrl('http://h', 'owner:me template:"x y"', '')).toBe(
      'http://h/coder/api/workspaces/stream?q=owner%3Ame+template%3A%22x+y%22'
    );
  });
});

describe('ReconnectPolicy', () => {
  it('grows by half from 1 s to at most 10 s, and starts over after a reset', () => {
    const policy = new ReconnectPolicy();
    const delays = Array.from({ length: 8 }, () => policy.nextDelay());
    expect(delays).toEqual([1000, 1500, 2250, 3375, 5063, 7594, 10000, 10000]);
    policy.reset();
    expect(policy.attempt).toBe(0);
    expect(policy.nextDelay()).toBe(1000);
  });
});

describe('ConnectionTracker', () => {
  it('is reconnecting until the first snapshot, live after, reconnecting on errors and drops', () => {
    const tracker = new ConnectionTracker();
    expect(tracker.state).toBe('reconnecting');
    expect(tracker.onEvent({ type: 'snapshot', rows: [] })).toBe(true);
    expect(tracker.state).toBe('live');
    expect(tracker.onEvent({ type: 'row', row: row() })).toBe(false);
    expect(
      tracker.onEvent({ type: 'error', error: { message: 'Coder is down' } })
    ).toBe(true);
    expect(tracker.state).toBe('reconnecting');
    expect(tracker.reason).toBe('Reconnecting: Coder is down');
    expect(tracker.onEvent({ type: 'row', row: row() })).toBe(true);
    expect(tracker.state).toBe('live');
    expect(tracker.onDropped()).toBe(true);
    expect(tracker.onDropped()).toBe(false);
    expect(tracker.reason).toBe('Connection lost; reconnecting…');
  });
});
