import type { ConnectionEvidence, FlowRecord } from '../../../contract/types.js';
import { evictOldest, lowWater } from '../../util/bounded.js';
import { deviceLabel, destinationOf, type JudgedFlow, type Rule } from '../rule.js';

export type LongConnectionParams = {
  min_duration_s: number;
  report_documented: boolean;
};

/** TCP sessions remembered after they went idle, waiting to resume. */
const MAX_SESSIONS = 20_000;
/** Pieces of one session kept to raise together once it proves long. */
const MAX_PIECES = 8;

/** One TCP session so far: the pieces the flow table cut it into when it went idle. */
interface Session {
  started: number;
  end: number;
  bytesOut: number;
  bytesIn: number;
  pieces: number;
  /** the pieces not raised yet */
  held: FlowRecord[];
}

/**
 * One connection from a device to the Internet open for a long time (RITA's
 * first band: an hour). The flow table ends a TCP session that stays quiet
 * past its idle timeout and starts a new flow, without a handshake, when it
 * speaks again: those pieces (same addresses and ports, no SYN) are one
 * connection here, timed from the first piece's first packet to the last's
 * last. A UDP flow is one connection as the table keeps it (no gap past the
 * UDP timeout). Judged when the flow ends. Local connections (a hub and its
 * bulbs) are not judged; a destination the device's profile documents is
 * not reported unless report_documented is set.
 */
export const longConnection: Rule<LongConnectionParams> = {
  id: 'long-connection',
  summary: 'a device keeps one connection to the Internet open for an hour or more (RITA-style long connection)',
  defaults: { enabled: true, severity: 'low', mitre: ['T1071'], params: { min_duration_s: 3600, report_documented: false } },
  evidence: ['connection'],
  create: ({ settings, profiles, raise }) => {
    const sessions = new Map<string, Session>();
    const alert = (j: JudgedFlow, flows: FlowRecord[], s: Session) => {
      const f = j.flow;
      const ev: ConnectionEvidence = { duration_s: round(s.end - s.started), started: s.started, bytes_out: s.bytesOut, bytes_in: s.bytesIn, pieces: s.pieces };
      const name = f.server_name;
      for (const g of flows) {
        raise(j.flow === g ? j : { ...j, flow: g }, {
          key: `${f.dst_ip}|${f.proto}/${f.dst_port}`,
          destination: () => destinationOf(j, name, true),
          message: () => `${deviceLabel(j.device)} kept a connection to ${name ? `${name} (${f.dst_ip})` : f.dst_ip}:${f.dst_port}/${f.proto} open for ${hours(ev.duration_s)} (${ev.bytes_out} bytes out, ${ev.bytes_in} in)`,
          reason: () => `one connection open ${ev.duration_s} s, at least rules.long-connection.min_duration_s (${settings.params.min_duration_s} s)`,
          evidence: (e) => {
            if (!e.connection || e.connection.duration_s < ev.duration_s) e.connection = ev;
          },
        });
      }
    };
    return {
      flow(j) {
        const f = j.flow;
        if (f.proto !== 'tcp' && f.proto !== 'udp') return;
        // A UDP flow is never kept as a session: one shorter than the bound is done with, at no cost.
        if (f.proto === 'udp' && f.duration < settings.params.min_duration_s) return;
        if (!settings.params.report_documented && j.profile && profiles.documents(j.profile, f)) return;
        const s = piece(sessions, j);
        if (s.end - s.started < settings.params.min_duration_s) return;
        const flows = s.held;
        s.held = [];
        alert(j, flows, s);
      },
    };
  },
};

/** The session the flow belongs to: a TCP piece resuming one that went idle continues it. */
function piece(sessions: Map<string, Session>, j: JudgedFlow): Session {
  const f = j.flow;
  const key = `${j.device.mac ?? j.device.ip}|${f.proto}|${f.src_port}|${f.dst_ip}|${f.dst_port}`;
  const had = f.proto === 'tcp' && f.mid_stream ? sessions.get(key) : undefined;
  sessions.delete(key);
  const s: Session = had ?? { started: f.ts, end: f.ts, bytesOut: 0, bytesIn: 0, pieces: 0, held: [] };
  s.end = Math.max(s.end, f.ts + f.duration);
  s.bytesOut += f.src_bytes;
  s.bytesIn += f.dst_bytes;
  s.pieces++;
  if (s.held.length < MAX_PIECES) s.held.push(f);
  // Only a TCP session the table cut for idleness (or for room) can resume as a further piece.
  if (f.proto === 'tcp' && (f.end_reason === 'idle' || f.end_reason === 'evicted')) {
    sessions.set(key, s);
    if (sessions.size > MAX_SESSIONS) evictOldest(sessions, lowWater(MAX_SESSIONS));
  }
  return s;
}

const round = (s: number) => Math.round(s * 1000) / 1000;

function hours(s: number): string {
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 60)} min`;
}
