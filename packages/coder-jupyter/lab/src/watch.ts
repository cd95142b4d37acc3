/**
 * Which workspaces the person is waiting on, and so hears about: those started, restarted or created
 * from the panel (until their outcome) and those pinned (every time).
 */
import { IChange, Outcome, outcomeOf } from './rows';

export class Watchlist {
  private readonly _started = new Set<string>();
  private readonly _pinned: Set<string>;

  constructor(pinned: Iterable<string> = []) {
    this._pinned = new Set(pinned);
  }

  /** The workspace was started (or created) from the panel: tell its outcome once. */
  started(id: string): void {
    this._started.add(id);
  }

  isWatched(id: string): boolean {
    return this._started.has(id) || this._pinned.has(id);
  }

  isPinned(id: string): boolean {
    return this._pinned.has(id);
  }

  /** Pin or unpin; returns whether it is pinned now. */
  togglePin(id: string): boolean {
    if (this._pinned.has(id)) {
      this._pinned.delete(id);
      return false;
    }
    this._pinned.add(id);
    return true;
  }

  pinned(): string[] {
    return [...this._pinned];
  }

  /**
   * The outcome to tell the person about for this change, if any. A workspace started from the panel
   * counts even when the panel first sees it already settled (a create whose row arrives late).
   */
  notice(change: IChange): Outcome | null {
    if (!this.isWatched(change.id)) {
      return null;
    }
    if (change.kind === 'removed') {
      this._started.delete(change.id);
      return null;
    }
    let outcome = outcomeOf(change.before, change.after);
    if (
      outcome === null &&
      change.before === null &&
      this._started.has(change.id)
    ) {
      outcome = outcomeOf(
        change.after === null
          ? null
          : { ...change.after, stage: 'queued', failed: false },
        change.after
      );
    }
    if (outcome !== null) {
      this._started.delete(change.id);
    }
    return outcome;
  }
}
