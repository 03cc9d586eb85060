// Beacon scoring after RITA v5: four equally weighted subscores in [0, 1].
// Regular gaps and sizes score high; so do connections spread evenly over the
// observed time, for a long stretch of it.

export interface BeaconScore {
  score: number;
  timestamps: number;
  sizes: number;
  histogram: number;
  duration: number;
  /** median gap between beats, seconds */
  interval: number;
  /** median absolute deviation of the gaps, seconds */
  jitter: number;
  beats: number;
}

export interface BeaconSettings {
  /** connections closer than this to the previous beat are the same beat (retries) */
  mergeWithinS: number;
  /** histogram bars needed before the duration subscore counts */
  durMinBars: number;
  /** a run of this many consecutive bars is a fully consistent beacon */
  durIdealBars: number;
  /** bars needed for the bimodal fit */
  bimodalMinBars: number;
  /** bar heights within this fraction of the tallest are one mode */
  modeSensitivity: number;
}

export const DEFAULT_BEACON_SETTINGS: BeaconSettings = { mergeWithinS: 2, durMinBars: 6, durIdealBars: 12, bimodalMinBars: 11, modeSensitivity: 0.05 };

const BARS = 24;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function median(sorted: number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function quartiles(sorted: number[]): [number, number, number] {
  const n = sorted.length;
  const half = Math.floor(n / 2);
  const lower = sorted.slice(0, half);
  const upper = sorted.slice(n % 2 ? half + 1 : half);
  return [median(lower), median(sorted), median(upper)];
}

/** 1 for a symmetric distribution, less the more it is skewed (Bowley's quartile skewness). */
function skewScore(sorted: number[]): number {
  const [q1, q2, q3] = quartiles(sorted);
  const spread = q3 - q1;
  // Tiny spreads (under 10 units) are noise, not skew.
  const skew = spread >= 10 && q2 !== q1 && q2 !== q3 ? (q1 + q3 - 2 * q2) / spread : 0;
  return 1 - Math.abs(skew);
}

/** 1 when every value sits at the median, falling with the median absolute deviation. */
function madScore(sorted: number[], whenMedianBelowOne: number): { score: number; mad: number } {
  const m = median(sorted);
  const mad = median(sorted.map((x) => Math.abs(x - m)).sort((a, b) => a - b));
  let score = m >= 1 ? (m - mad) / m : whenMedianBelowOne;
  if (!(score >= 0)) score = 0;
  return { score, mad };
}

/**
 * @param starts connection start times (epoch seconds)
 * @param sizes bytes per connection
 * @param spanStart first timestamp of the whole data set
 * @param spanEnd last timestamp of the whole data set
 * @returns null when there are too few beats to judge
 */
export function scoreBeacon(starts: number[], sizes: number[], spanStart: number, spanEnd: number, s: BeaconSettings = DEFAULT_BEACON_SETTINGS): BeaconScore | null {
  const sortedStarts = [...starts].sort((a, b) => a - b);
  const beats: number[] = [];
  for (const t of sortedStarts) if (beats.length === 0 || t - beats[beats.length - 1] > s.mergeWithinS) beats.push(t);
  if (beats.length < 4 || spanEnd <= spanStart) return null;

  const gaps = beats.slice(1).map((t, i) => t - beats[i]).sort((a, b) => a - b);
  const gapMad = madScore(gaps, 1);
  const timestamps = round3((skewScore(gaps) + gapMad.score) / 2);

  const sortedSizes = [...sizes].sort((a, b) => a - b);
  const sizes3 = sortedSizes.length >= 3 ? round3((skewScore(sortedSizes) + madScore(sortedSizes, 0).score) / 2) : 0;

  // Connections per twenty-fourth of the observed time.
  const bars = new Array<number>(BARS).fill(0);
  const width = (spanEnd - spanStart) / BARS;
  for (const t of beats) bars[Math.min(BARS - 1, Math.max(0, Math.floor((t - spanStart) / width)))]++;
  const total = beats.length;
  const mean = total / BARS;
  const sd = Math.sqrt(bars.reduce((acc, b) => acc + (b - mean) ** 2, 0) / BARS);
  const cv = sd / mean;
  const cvScore = cv > 1 ? 0 : round3(1 - cv);
  const tallest = Math.max(...bars);
  const modeWidth = Math.max(1, Math.ceil(tallest * s.modeSensitivity));
  const modes = new Map<number, number>();
  let nonEmpty = 0;
  for (const b of bars) {
    if (b === 0) continue;
    nonEmpty++;
    const m = Math.floor(b / modeWidth);
    modes.set(m, (modes.get(m) ?? 0) + 1);
  }
  let bimodal = 0;
  if (nonEmpty >= s.bimodalMinBars) {
    const [a = 0, b = 0] = [...modes.values()].sort((x, y) => y - x);
    bimodal = Math.min(1, round3((a + b) / Math.max(nonEmpty - 1, 1)));
  }
  const histogram = Math.max(cvScore, bimodal);

  // Longest run of non-empty bars, wrapping around the end.
  let run = 0;
  let longest = 0;
  for (let i = 0; i < BARS * 2; i++) {
    run = bars[i % BARS] > 0 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  longest = Math.min(longest, BARS);
  let duration = 0;
  if (nonEmpty >= s.durMinBars) {
    const coverage = Math.min(1, Math.ceil(((beats[beats.length - 1] - beats[0]) / (spanEnd - spanStart)) * 1000) / 1000);
    const consistency = Math.min(1, Math.ceil((longest / s.durIdealBars) * 1000) / 1000);
    duration = Math.max(coverage, consistency);
  }

  return {
    score: round3((timestamps + sizes3 + histogram + duration) / 4),
    timestamps,
    sizes: sizes3,
    histogram,
    duration,
    interval: median(gaps),
    jitter: gapMad.mad,
    beats: beats.length,
  };
}
