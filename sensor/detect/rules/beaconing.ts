import { DEFAULT_BEACON_SETTINGS, scoreBeacon, type BeaconScore } from '../beacon.js';
import { describeEntry } from '../profiles/values.js';
import { deviceLabel, type Rule } from '../rule.js';

export type BeaconParams = {
  min_connections: number;
  min_score: number;
  min_timestamp_score: number;
  max_jitter_ratio: number;
  merge_within_s: number;
  /** a beacon to a destination the device's profile documents: reported at low severity (true) or not at all (false) */
  report_documented: boolean;
};

/**
 * Regular connections from a device to one destination, scored over the
 * whole capture as RITA scores them. A beacon its profile documents (every
 * sampled connection) is a documented heartbeat: reported at low severity,
 * saying so, or not at all with report_documented: false.
 */
export const beaconing: Rule<BeaconParams> = {
  id: 'beaconing',
  summary: 'a device connects to one destination at regular intervals (RITA-style score of timing, sizes, histogram and duration)',
  defaults: {
    enabled: true,
    severity: 'high',
    mitre: ['T1071', 'T1029'],
    params: { min_connections: 10, min_score: 0.8, min_timestamp_score: 0.75, max_jitter_ratio: 0.35, merge_within_s: 2, report_documented: true },
  },
  evidence: ['interval_s', 'jitter_s', 'score', 'connections', 'subscores', 'documented', 'profile_entry'],
  create: ({ settings, profiles, raiseSeries }) => ({
    series(s, span) {
      const p = settings.params;
      if (s.totals.flows < p.min_connections) return false;
      const score = scoreBeacon(s.starts, s.sizes, span.start, span.end, { ...DEFAULT_BEACON_SETTINGS, mergeWithinS: p.merge_within_s });
      if (!score || !isBeacon(score, p)) return false;
      const documented = profiles.documentsSeries(s);
      if (documented && !p.report_documented) return true;
      const message = `${deviceLabel(s.device)} contacted ${s.name ?? s.dstIp} ${score.beats} times every ${round(score.interval)} s (jitter ${round(score.jitter)} s, beacon score ${score.score})`;
      const reason = `regular connections: beacon score ${score.score} (timestamps ${score.timestamps}, sizes ${score.sizes}, histogram ${score.histogram}, duration ${score.duration})`;
      const evidence = {
        interval_s: round(score.interval), jitter_s: round(score.jitter), score: score.score, connections: s.totals.flows,
        subscores: { timestamps: score.timestamps, sizes: score.sizes, histogram: score.histogram, duration: score.duration },
      };
      if (!documented) {
        raiseSeries(s, message, reason, evidence);
        return true;
      }
      const what = `profile ${documented.profile.profile} documents ${describeEntry(documented.entry)}`;
      raiseSeries(s, `${message}: a documented heartbeat (${what})`, `${reason}; ${what}`,
        { ...evidence, documented: true, profile_entry: documented.entry },
        // low, or the rule's own severity when that is lower still
        settings.severity === 'info' ? 'info' : 'low');
      return true;
    },
  }),
};

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The thresholds of rules/detections.yaml applied to a score. */
export function isBeacon(s: BeaconScore, p: Pick<BeaconParams, 'min_score' | 'min_timestamp_score' | 'max_jitter_ratio'>): boolean {
  return s.score >= p.min_score && s.timestamps >= p.min_timestamp_score && s.jitter <= p.max_jitter_ratio * s.interval;
}
