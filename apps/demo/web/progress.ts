/**
 * The experiment's progress: one bar over the whole request (loading the data, each run's training,
 * then paper 2's pruning experiment), which only moves forward, and the phase it is in, named.
 * Screen readers hear the phases and each task's end through a polite live region, not every step.
 */

export type Phase = 'idle' | 'starting' | 'loading data' | 'training' | 'pruning' | 'done' | 'stopped' | 'error';

export interface ProgressView {
  bar: HTMLProgressElement;
  phase: HTMLElement;
  announcer: HTMLElement;
}

/** The share of the bar each part of a request takes (training and pruning split what loading leaves). */
const LOADING = 0.03;
const PRUNING = 0.25;

export class ExperimentProgress {
  private value = 0;
  private current: Phase = 'idle';
  private pruning = false;

  constructor(private readonly view: ProgressView) {}

  /** A new request: the bar back to 0; `pruning`: the pruning experiment follows the runs. */
  start(pruning: boolean): void {
    this.value = 0;
    this.pruning = pruning;
    this.view.bar.value = 0;
    this.setPhase('starting');
  }

  /** Training: run `run` of `runs`, `fraction` of it done. */
  training(run: number, runs: number, fraction: number): void {
    this.setPhase('training');
    const span = (this.pruning ? 1 - PRUNING : 1) - LOADING;
    this.advance(LOADING + span * ((run + Math.max(0, Math.min(1, fraction))) / Math.max(1, runs)));
  }

  /** Paper 2's pruning experiment, `fraction` of it done. */
  pruningStep(fraction: number): void {
    this.setPhase('pruning');
    this.advance(1 - PRUNING + PRUNING * Math.max(0, Math.min(1, fraction)));
  }

  loading(): void {
    this.setPhase('loading data');
  }

  /** The end: done (bar full), stopped or error (bar left where it was). */
  end(phase: 'done' | 'stopped' | 'error', text: string): void {
    if (phase === 'done') this.advance(1);
    this.setPhase(phase, text);
  }

  /** Says `text` to screen readers (a task's end, the phases). */
  announce(text: string): void {
    this.view.announcer.textContent = text;
  }

  get phase(): Phase {
    return this.current;
  }

  private advance(v: number): void {
    if (v > this.value) {
      this.value = Math.min(1, v);
      this.view.bar.value = this.value;
    }
    this.view.bar.setAttribute('aria-valuetext', `${Math.round(this.value * 100)} %, ${this.current}`);
  }

  private setPhase(phase: Phase, text?: string): void {
    if (phase === this.current && !text) return;
    this.current = phase;
    this.view.phase.textContent = phase;
    this.view.phase.dataset.phase = phase;
    this.announce(text ?? `${phase}…`);
  }
}
