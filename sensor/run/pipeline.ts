import { existsSync } from 'node:fs';
import type { AlertRecord, DeviceRecord, FlowRecord } from '../../contract/types.js';
import { DEFAULT_PROFILES_DIR } from '../analyze.js';
import { Analyzer, type AnalyzerOptions } from '../analyzer.js';
import type { PacketSink } from '../capture/packet.js';
import { loadDetectionConfig } from '../detect/config.js';
import { Detector, type FlowRef } from '../detect/engine.js';
import { loadProfiles } from '../detect/profiles.js';
import { enrichFlow } from '../enrich/flows.js';
import { GeoIp } from '../enrich/geoip.js';

/** The analysis options of `phonehome analyze`, with the same meaning and defaults. */
export interface PipelineOptions extends AnalyzerOptions {
  profilesDir?: string | null;
  detectionsFile?: string;
  geoip?: string[];
  watchCountries?: string[];
}

export interface PipelineSinks {
  /** every flow as it ends, enriched, before the detector sees it (as analyze writes flows.jsonl) */
  flow: (r: FlowRecord) => void;
  /** an alert fired for the first time, or a beacon/strobe was scored; the record is live: copy it now */
  alert: (a: AlertRecord) => void;
}

/**
 * The same Analyzer → enrich → Detector wiring as analyze(), built the same
 * way from the same options, so a sensor and `phonehome analyze` give the
 * same flows and the same alert ids for the same packets. Long-lived: inputs
 * are fed one after another and flows continue across them.
 */
export class Pipeline {
  /** profile loading notes (MUD entries that could not be mapped) */
  readonly notes: string[];
  /** capture time of the last packet read (epoch seconds) */
  lastPacketTs: number | null = null;
  private spanStart = Infinity;
  private spanEnd = -Infinity;
  private flushed = false;

  private constructor(
    readonly analyzer: Analyzer,
    readonly detector: Detector,
    notes: string[],
  ) {
    this.notes = notes;
  }

  /** Throws ConfigError, ProfileError or GeoIpError for a configuration mistake, before anything is read. */
  static async create(opts: PipelineOptions, sinks: PipelineSinks): Promise<Pipeline> {
    const config = loadDetectionConfig(opts.detectionsFile);
    if (opts.watchCountries) config.watchCountries = opts.watchCountries;
    const profilesDir = opts.profilesDir === undefined ? (existsSync(DEFAULT_PROFILES_DIR) ? DEFAULT_PROFILES_DIR : null) : opts.profilesDir;
    const { profiles, warnings: notes } = profilesDir ? loadProfiles(profilesDir) : { profiles: [], warnings: [] };
    const geo = await GeoIp.open(opts.geoip ?? []);
    const detector = new Detector({ config, profiles, geo }, sinks.alert);
    const analyzer: Analyzer = new Analyzer(
      {
        flow: (r, facts, resolved) => {
          enrichFlow(r, geo);
          sinks.flow(r);
          detector.onFlow(r, facts, resolved);
        },
      },
      opts,
    );
    return new Pipeline(analyzer, detector, notes);
  }

  /**
   * A sink for one input (file or stream). Call the returned end() when the
   * input is done: the observed span grows by the input's first and last
   * packet, exactly as analyze() takes them from its per-file stats.
   */
  input(): { sink: PacketSink; end: () => { first: number | null; last: number | null } } {
    let first: number | null = null;
    let last: number | null = null;
    const onPacket = this.analyzer.onPacket;
    return {
      sink: (p) => {
        last = p.tsSec + p.tsNsec / 1e9;
        first ??= last;
        this.lastPacketTs = last;
        onPacket(p);
      },
      end: () => {
        this.spanStart = Math.min(this.spanStart, first ?? Infinity);
        this.spanEnd = Math.max(this.spanEnd, last ?? -Infinity);
        return { first, last };
      },
    };
  }

  /**
   * Scores beacons over the span read so far and returns every alert, one
   * record per id. Detector.finish() is built to run once; calling it again
   * re-adds each beacon/strobe under its (stable) id, so the newest copy wins.
   */
  alerts(): AlertRecord[] {
    const all = this.detector.finish(this.spanStart, this.spanEnd);
    const byId = new Map<string, AlertRecord>();
    for (const a of all) byId.set(a.id, a);
    return [...byId.values()];
  }

  /** Flow packets of each alert returned by the last alerts() call, for evidence captures. */
  evidenceFlows(): Map<string, FlowRef[]> {
    return this.detector.evidenceFlows();
  }

  devices(): DeviceRecord[] {
    return this.analyzer.inventory.records();
  }

  /** End of everything: every live flow ends (end_reason 'end'). Only once. */
  flushFlows(): void {
    if (this.flushed) return;
    this.flushed = true;
    this.analyzer.finish();
  }
}
