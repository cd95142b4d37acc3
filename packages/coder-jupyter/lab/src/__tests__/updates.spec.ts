import { streamUrl } from '../stream';
import { canUpdate, loadingText, updateQuestion } from '../updates';
import { row } from './fixtures';

describe('canUpdate', () => {
  it('offers Update for an outdated, settled workspace the server marked updatable', () => {
    expect(canUpdate(row({ outdated: true, can_update: true }))).toBe(true);
  });

  it('not where the server does not offer it (e.g. Coder v0.25) or the row is not outdated', () => {
    expect(canUpdate(row({ outdated: true, can_update: false }))).toBe(false);
    expect(canUpdate(row())).toBe(false);
  });

  it('not while a build is under way or the workspace is going away', () => {
    expect(
      canUpdate(row({ can_update: true, settled: false, stage: 'building' }))
    ).toBe(false);
    expect(
      canUpdate(
        row({ can_update: true, transition: 'delete', status: 'deleting' })
      )
    ).toBe(false);
  });
});

describe('updateQuestion', () => {
  it('asks before restarting a running workspace', () => {
    expect(updateQuestion(row({ can_update: true }))).toBe(
      'alice/ml-box stops, then starts on the newest version of template Python data science. ' +
        'Unsaved work inside it is lost.'
    );
  });

  it('asks nothing for a stopped one', () => {
    expect(
      updateQuestion(
        row({ status: 'stopped', transition: 'stop', stage: 'stopped' })
      )
    ).toBeNull();
  });
});

describe('shared with me', () => {
  it('the stream asks for the shared list', () => {
    expect(streamUrl('http://h/', 'owner:me', '', true)).toBe(
      'http://h/coder/api/workspaces/stream?q=owner%3Ame&shared=true'
    );
    expect(streamUrl('http://h/', 'owner:me', '')).toBe(
      'http://h/coder/api/workspaces/stream?q=owner%3Ame'
    );
  });

  it('says what is loading', () => {
    expect(loadingText('shared')).toBe('Loading workspaces shared with you…');
    expect(loadingText('mine')).toBe('Loading your workspaces…');
  });
});
