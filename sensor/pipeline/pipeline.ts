import type { AlertRecord, DeviceRecord, DnsRecord, FlowRecord } from '../../contract/types.js';
import type { PacketSink } from '../capture/packet.js';
import type { Detector, KeptFlows } from '../detect/engine.js';
import { enrichDevices, enrichFlow, type EnrichedFlow } from '../enrich/destination.js';
import { FlowMeter } from './meter.js';
import { detectorOf, loadAnalysis, type AnalysisOptions, type AnalysisSetup } from './setup.js';

export interface PipelineSinks {
  /** every flow as it ends, enriched, before detection judges it (as analyze writes flows.jsonl) */
  flow?: (r: FlowRecord) => void;
  /** DNS messages in packet order */
  dns?: (r: DnsRecord) => void;
  /** an alert fired for the first time, or a beacon/strobe was scored; the record is live: copy it now */
  alert?: (a: AlertRecord) => void;
  /** every ended flow as detection receives it (learning profiles from what detection would judge) */
  enriched?: (e: EnrichedFlow) => void;
  /**
   * A device evicted from the inventory (past --max-devices, least recently
   * seen first), enriched as devices() gives it: its record goes out now, as
   * devices.json or a device event, and devices() no longer lists it. Without
   * this sink the inventory keeps every device.
   */
  device?: (d: DeviceRecord) => void;
}

/**
 * The one analysis of phonehome in one thread: packets → flow meter →
 * enrich → detect. `phonehome analyze` runs one over files, the sensor one
 * for its whole life (flows continue across inputs), and the shards of
 * `--workers` run its first stages each (ShardPipeline) and detect in the
 * thread that merges them.
 */
export class Pipeline {
  readonly meter: FlowMeter;
  readonly detector: Detector;
  /** capture time of the last packet read (epoch seconds) */
  lastPacketTs: number | null = null;
  private spanStart = Infinity;
  private spanEnd = -Infinity;
  private flushed = false;

  constructor(
    readonly setup: AnalysisSetup,
    opts: AnalysisOptions,
    sinks: PipelineSinks,
  ) {
    const detector = (this.detector = detectorOf(setup, sinks.alert));
    const out = sinks.flow;
    this.meter = new FlowMeter(
      {
        flow: (r, device, resolved, ends, more) => {
          const e = enrichFlow(r, device, resolved, setup.geo, ends, more);
          out?.(r);
          sinks.enriched?.(e);
          detector.onFlow(e);
        },
        dns: sinks.dns,
        device: sinks.device && ((d) => sinks.device!(enrichDevices([d], setup.geo)[0])),
        // Without a flow sink only what detection looks at needs a record.
        outboundOnly: out === undefined && !detector.seesAll,
      },
      opts,
    );
  }

  /** Loads the setup (ConfigError, ProfileError or GeoIpError before anything is read) and builds on it. */
  static async create(opts: AnalysisOptions, sinks: PipelineSinks): Promise<Pipeline> {
    return new Pipeline(await loadAnalysis(opts), opts, sinks);
  }

  /** profile loading notes (MUD entries that could not be mapped) */
  get notes(): string[] {
    return this.setup.notes;
  }

  /**
   * A sink for one input (file or stream). Call the returned end() when the
   * input is done: the observed span grows by the input's first and last
   * packet, exactly as analyze() takes them from its per-file stats.
   */
  input(): { sink: PacketSink; end: () => { first: number | null; last: number | null } } {
    let first: number | null = null;
    let last: number | null = null;
    const onPacket = this.meter.onPacket;
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

  /** Scores series (beacons) over the span read so far and returns every alert; a series scored again replaces its alert. */
  alerts(): AlertRecord[] {
    return this.detector.finish(this.spanStart, this.spanEnd);
  }

  /** Flow packets of each alert returned by the last alerts() call, for evidence captures. */
  evidenceFlows(): Map<string, KeptFlows> {
    return this.detector.evidenceFlows();
  }

  devices(): DeviceRecord[] {
    return enrichDevices(this.meter.inventory.records(), this.setup.geo);
  }

  /** End of everything: every live flow ends (end_reason 'end'). Only once. */
  flushFlows(): DeviceRecord[] {
    if (!this.flushed) {
      this.flushed = true;
      this.meter.finish();
    }
    return this.devices();
  }
}
