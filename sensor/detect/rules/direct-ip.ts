import type { FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';
import { evictOldest, lowWater } from '../../util/bounded.js';
import { deviceLabel, destinationOf, type JudgedFlow, type Rule } from '../rule.js';

export type DirectIpParams = {
  ignore_ports: number[];
  dns_warmup_s: number;
};

/** Device, destination and port combinations remembered as named. */
const MAX_NAMED = 100_000;

/**
 * A connection to an address no DNS answer gave the device: a hard-coded
 * address. Hard-coded only when phonehome could have seen the name: the
 * connection's start was seen (not a TCP session begun before the capture or
 * resumed after an idle spell), phonehome had watched the device's DNS for a
 * warm-up period (or since the device joined the network by DHCP), and no
 * earlier flow of the device to the same address and port had a name.
 */
export const directIp: Rule<DirectIpParams> = {
  id: 'direct-ip',
  summary: 'a device connects to an address it never resolved through DNS (a hard-coded address)',
  // Resolvers are configured by address: DNS and DNS over TLS are not hard-coded callbacks.
  // Slips, too, waits half an hour before it judges connections without DNS.
  defaults: { enabled: true, severity: 'medium', mitre: ['T1071', 'T1568'], params: { ignore_ports: [53, 853], dns_warmup_s: 1800 } },
  evidence: [],
  create: ({ settings, profiles, raise }) => {
    const named = new Map<string, true>();
    const firstFlow = new Map<string, number>();
    const waiting = new Waiting();
    const alert = (j: JudgedFlow) =>
      raise(j, {
        key: j.flow.dst_ip,
        destination: () => destinationOf(j, j.flow.sni ?? j.flow.http_host, true),
        message: () => `${deviceLabel(j.device)} connected to ${j.flow.dst_ip}:${j.flow.dst_port}/${j.flow.proto} without resolving it through DNS (a hard-coded address)`,
        reason: () => `no DNS answer gave ${j.flow.dst_ip} to ${j.flow.src_ip} before the connection, and no connection to it on ${j.flow.proto}/${j.flow.dst_port} had a name`,
      });
    return {
      flow(j) {
        const f = j.flow;
        if ((f.proto !== 'tcp' && f.proto !== 'udp') || settings.params.ignore_ports.includes(f.dst_port)) return;
        const key = sessionKey(j.device, f);
        const since = firstSeen(firstFlow, j.device, f.ts);
        if (f.dns_name !== null || j.resolved) {
          waiting.drop(j);
          return remember(named, key);
        }
        if (f.mid_stream || named.has(key)) return;
        // An address the profile documents by CIDR is expected to be hard-coded.
        if (j.profile && profiles.documents(j.profile, f)?.cidr) return;
        // Before the warm-up ends a missing answer may have come before phonehome watched:
        // such connections wait, and count as evidence once a later one confirms them.
        if (!watched(j.device, since, f.ts, settings.params.dns_warmup_s)) return waiting.add(j);
        for (const w of waiting.take(j)) alert(w);
        alert(j);
      },
    };
  },
};

/** Connections made during a device's warm-up, by device and address, until confirmed or named. */
class Waiting {
  private readonly byTarget = new Map<string, JudgedFlow[]>();

  add(j: JudgedFlow): void {
    const key = targetKey(j);
    let list = this.byTarget.get(key);
    if (!list) {
      this.byTarget.set(key, (list = []));
      if (this.byTarget.size > MAX_NAMED) evictOldest(this.byTarget, lowWater(MAX_NAMED));
    }
    if (list.length < MAX_WAITING) list.push(j);
  }

  take(j: JudgedFlow): JudgedFlow[] {
    const key = targetKey(j);
    const list = this.byTarget.get(key) ?? [];
    this.byTarget.delete(key);
    return list;
  }

  drop(j: JudgedFlow): void {
    this.byTarget.delete(targetKey(j));
  }
}

/** Connections kept per device and address while it warms up (all are counted once confirmed: up to this many). */
const MAX_WAITING = 50;

const targetKey = (j: JudgedFlow) => `${j.device.mac ?? j.device.ip}|${j.flow.dst_ip}`;

const sessionKey = (d: DeviceFacts, f: FlowRecord) => `${d.mac ?? d.ip}|${f.dst_ip}|${f.proto}|${f.dst_port}`;

function remember(named: Map<string, true>, key: string): void {
  if (named.has(key)) return;
  named.set(key, true);
  if (named.size > MAX_NAMED) evictOldest(named, lowWater(MAX_NAMED));
}

/**
 * When the device's first Internet flow began: how long phonehome has been
 * watching it. Judged flows reach detection in one order whatever the
 * threads, so this is the same with --workers.
 */
function firstSeen(first: Map<string, number>, d: DeviceFacts, ts: number): number {
  const id = d.mac ?? d.ip;
  const had = first.get(id);
  if (had !== undefined) return had;
  first.set(id, ts);
  if (first.size > MAX_NAMED) evictOldest(first, lowWater(MAX_NAMED));
  return ts;
}

/** Whether phonehome had been watching the device's DNS long enough for a missing answer to mean something. */
function watched(d: DeviceFacts, since: number, ts: number, warmupS: number): boolean {
  if (d.joined_at !== undefined && d.joined_at !== null && d.joined_at <= ts) return true;
  return ts - since >= warmupS;
}
