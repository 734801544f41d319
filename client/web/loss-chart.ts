/**
 * The live training-loss curve: uPlot (served with the dashboard's copy) when it loaded, else the
 * numbers alone in the status line. One point per batch; redrawn at most every animation frame.
 */
interface UPlotLike {
  setData(data: number[][]): void;
  setSize(s: { width: number; height: number }): void;
  destroy(): void;
}
type UPlotCtor = new (opts: object, data: number[][], target: HTMLElement) => UPlotLike;

export class LossChart {
  private plot: UPlotLike | null = null;
  private xs: number[] = [];
  private ys: number[] = [];
  private queued = false;

  constructor(private readonly target: HTMLElement) {
    // A narrow screen turned, or a window resized: the chart follows its box.
    addEventListener('resize', () => this.plot?.setSize({ width: Math.max(240, this.target.clientWidth), height: 180 }));
  }

  reset(): void {
    this.xs = [];
    this.ys = [];
    this.plot?.destroy();
    this.plot = null;
    this.target.dataset['points'] = '0';
  }

  add(step: number, loss: number): void {
    this.xs.push(step);
    this.ys.push(loss);
    this.target.dataset['points'] = String(this.xs.length);
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  private draw(): void {
    const U = (globalThis as { uPlot?: UPlotCtor }).uPlot;
    if (!U) return;
    const width = Math.max(240, this.target.clientWidth);
    if (!this.plot) {
      this.plot = new U(
        { width, height: 180, scales: { x: { time: false } }, series: [{ label: 'batch' }, { label: 'training loss', stroke: '#1f6feb', width: 2 }], axes: [{}, { size: 50 }], legend: { show: true } },
        [this.xs, this.ys],
        this.target,
      );
    } else this.plot.setData([this.xs, this.ys]);
  }
}
