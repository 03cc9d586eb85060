import type { InboundEvidence } from '../../../contract/types.js';
import { evictOldest, lowWater } from '../../util/bounded.js';
import { DistinctBudget, DistinctCounter } from '../distinct.js';
import { deviceLabel, type Rule, type SeenFlow } from '../rule.js';

export type InboundExposureParams = {
  ignore_ports: number[];
};

/** Remote hosts listed in an alert's evidence at most. */
const MAX_REMOTES = 20;
/** Remote hosts counted exactly per alert, and over all alerts; past them the count is estimated. */
const MAX_EXACT = 10_000;
const EXACT_BUDGET = 200_000;
/** Alerts whose remote hosts are being counted; the least recently added to are forgotten first (their counts then start over, never going down). */
const MAX_COUNTING = 1000;
/** Local UDP ports remembered as ones devices sent from to the Internet (their own sessions). */
const MAX_CLIENT_PORTS = 100_000;

/** TCP states of a session whose handshake the responder completed (REJ and S0 are refusals and silence). */
const ACCEPTED = new Set(['SF', 'S1', 'S2', 'S3', 'RSTO', 'RSTR']);

/**
 * A session an Internet host opened to a local device, and the device
 * accepted: a backdoor in use, or a port the router exposes (forwarding,
 * UPnP). TCP: the remote's SYN was seen, the device completed the handshake
 * and both sides sent payload. UDP: both sides sent payload, and the device
 * had not itself sent from that port to the Internet before (else it is its
 * own session's reply, after the flow timed out, or a hole it punched).
 * One alert per device and local port, listing the remote hosts.
 */
export const inboundExposure: Rule<InboundExposureParams> = {
  id: 'inbound-exposure',
  summary: 'an Internet host opens a session to a local device and the device accepts it (handshake completed, data both ways)',
  defaults: { enabled: true, severity: 'high', mitre: ['T1133'], params: { ignore_ports: [] } },
  evidence: ['inbound'],
  create: ({ settings, profiles, raise }) => {
    const clientPorts = new Map<string, true>();
    const counting = new Counting();
    return {
      seen(s) {
        const f = s.flow;
        if (s.ends.srcLocal && !s.ends.dstLocal && f.proto === 'udp' && s.device) return rememberClient(clientPorts, `${s.device.mac ?? s.device.ip}|${f.src_port}`);
        const d = s.responder;
        if (d === null || s.ends.srcLocal || !s.ends.dstLocal || settings.params.ignore_ports.includes(f.dst_port)) return;
        if (!accepted(s, clientPorts, `${d.mac ?? d.ip}|${f.dst_port}`)) return;
        const src = s.src;
        raise(
          { flow: f, device: d, profile: profiles.profileFor(d) },
          {
            key: `${f.proto}/${f.dst_port}`,
            destination: () => ({ ip: f.src_ip, port: f.dst_port, proto: f.proto, name: null, country: src?.country ?? null, asn: src?.asn ?? null, as_org: src?.as_org ?? null }),
            message: () => `${f.src_ip}${src?.country ? ` (${src.country}${src.asn ? `, AS${src.asn}` : ''})` : ''} opened a session to ${deviceLabel(d)} on ${f.proto}/${f.dst_port} and the device accepted it: a port open to the Internet`,
            reason: () => `a ${f.proto === 'tcp' ? 'TCP handshake the device completed' : 'UDP exchange'}, with data both ways, that an Internet host began`,
            evidence: (e) => addRemote((e.inbound ??= { local_port: f.dst_port, proto: f.proto, remotes: [], remote_count: 0 }), s, counting),
          },
        );
      },
    };
  },
};

function accepted(s: SeenFlow, clientPorts: Map<string, true>, portKey: string): boolean {
  const f = s.flow;
  if (s.app?.payload !== 3) return false;
  if (f.proto === 'tcp') return !f.mid_stream && ACCEPTED.has(f.state);
  return f.proto === 'udp' && !clientPorts.has(portKey);
}

function rememberClient(ports: Map<string, true>, key: string): void {
  if (ports.has(key)) return;
  ports.set(key, true);
  if (ports.size > MAX_CLIENT_PORTS) evictOldest(ports, lowWater(MAX_CLIENT_PORTS));
}

/** The remote hosts of the alerts being added to, counted in bounded memory. */
class Counting {
  private readonly byAlert = new Map<InboundEvidence, DistinctCounter>();
  private readonly budget = new DistinctBudget(EXACT_BUDGET);

  /** Counts `ip` for the alert; true when it was not counted before. */
  add(ev: InboundEvidence, ip: string): boolean {
    let c = this.byAlert.get(ev);
    if (c) {
      this.byAlert.delete(ev);
    } else {
      c = new DistinctCounter(this.budget, MAX_EXACT);
      if (this.byAlert.size >= MAX_COUNTING) evictOldest(this.byAlert, lowWater(MAX_COUNTING), (x) => x.release());
    }
    this.byAlert.set(ev, c);
    const fresh = c.add(ip);
    ev.remote_count = Math.max(ev.remote_count, c.size);
    return fresh;
  }
}

/** Adds the flow's remote host to the alert's count, and to its list while short. */
function addRemote(ev: InboundEvidence, s: SeenFlow, counting: Counting): void {
  const ip = s.flow.src_ip;
  if (!counting.add(ev, ip) || ev.remotes.length >= MAX_REMOTES || ev.remotes.some((r) => r.ip === ip)) return;
  ev.remotes.push({ ip, country: s.src?.country ?? null, asn: s.src?.asn ?? null, as_org: s.src?.as_org ?? null });
}
