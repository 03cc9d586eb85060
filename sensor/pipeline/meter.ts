import type { DeviceRecord, DnsRecord, FlowRecord } from '../../contract/types.js';
import type { RawPacket } from '../capture/packet.js';
import { parseArp } from '../decode/arp.js';
import { ICMP6, newDecoded, TCP, UDP, type Decoded } from '../decode/decoded.js';
import { decodePacket } from '../decode/packet.js';
import { DecodeWarnings } from '../decode/warnings.js';
import { DEFAULT_MAX_DEVICES, Inventory, type DeviceFacts, type DeviceSnapshot } from '../devices/inventory.js';
import { addDnsFact, type AppFacts } from '../flows/app.js';
import type { FlowExtras } from '../flows/extras.js';
import type { Flow, FlowEndReason } from '../flows/flow.js';
import { Locality, type FlowEnds } from '../flows/locality.js';
import { DnsNameCache } from '../flows/names.js';
import { isSharedFact } from '../flows/shard.js';
import { DEFAULT_MAX_FLOWS, DEFAULT_TIMEOUTS, FlowTable, isEpochEnd, type FlowTimeouts } from '../flows/table.js';
import { parseDhcp, parseDhcp6 } from '../protocols/dhcp.js';
import { parseDns, type DnsMessage } from '../protocols/dns.js';
import { fingerprints } from '../protocols/fingerprint.js';
import { parseHttpRequest } from '../protocols/http.js';
import { DNS_PORTS, isDhcp, isDhcp6, isSsdp, tcpDnsLength } from '../protocols/ports.js';
import { parseSsdp } from '../protocols/ssdp.js';
import { parseClientHello } from '../protocols/tls.js';
import { CertificateJudge, serverCertificate } from '../protocols/tls-server.js';
import { ip4String, ip6String, macString } from '../util/addr.js';
import { boundHeapGrowth } from '../util/heap.js';
import { PayloadFacts } from './payload-facts.js';
import { compareFlows, flowRecord } from './records.js';

export interface MeterOptions {
  timeouts?: Partial<FlowTimeouts>;
  maxFlows?: number;
  /** devices tracked at once when evicted ones are handed on (MeterSinks.device); DEFAULT_MAX_DEVICES */
  maxDevices?: number;
  /** networks that are local besides the special-purpose ranges (--local-networks) */
  localNetworks?: string[];
  /**
   * One shard of `--workers` (in a worker or the main thread): the router
   * (parallel/route.ts) sees every packet of the input, decides sweeps and
   * epochs (sweep(), epochEnd()), counts decode warnings and packets, and
   * hands over only this shard's packets (onPacket, onDecoded) and the shared
   * ones (sharedPacket, onDecodedShared).
   */
  shardWorker?: boolean;
}

export interface MeterSinks {
  /**
   * Flows in canonical order: by epoch, then first packet time and uid, so
   * the order does not depend on how flows were spread over shards. `facts`
   * describes the local host that initiated it (null when none did);
   * `resolved` whether DNS gave it the destination before the flow began;
   * `ends` which ends are on the monitored network.
   */
  flow?: (r: FlowRecord, facts: DeviceFacts | null, resolved: boolean, ends: FlowEnds, more: FlowExtras) => void;
  /**
   * Only flows a local host opened to a non-local address reach `flow` (all
   * that the outbound rules judge); the rest are still counted and
   * inventoried, but no record is built for them. For runs that write no
   * flows out and run no rule that looks at other flows.
   */
  outboundOnly?: boolean;
  /** DNS messages in packet order; `packet` is the packet's index in the input */
  dns?: (r: DnsRecord, packet: number) => void;
  /** epoch `n` ended: every flow that ended in it has been delivered */
  epoch?: (n: number) => void;
  /**
   * A device evicted from the inventory (past maxDevices, least recently seen
   * first), as finish() would have listed it: its record goes out now. Without
   * this sink devices are never evicted.
   */
  device?: (r: DeviceRecord) => void;
  /** a shard's evicted device, as a snapshot to merge (instead of `device`) */
  evictedSnapshot?: (s: DeviceSnapshot) => void;
}

interface Ended {
  rec: FlowRecord;
  resolved: boolean;
  /** its initiator was a device (Flow.srcTracked) */
  tracked: boolean;
  ends: FlowEnds;
  app: AppFacts | null;
}

const MUTED = new DecodeWarnings();

/** Initiator payload segments of a TCP flow inspected for TLS SNI / HTTP Host. */
const APP_SEGMENTS = 4;
const TLS_MAX_HELLO = 16384 + 5;
/**
 * Responder payload segments, and bytes, read for a TLS server's certificate: the
 * ServerHello and the leaf certificate fit in a few segments.
 */
const TLS_SERVER_SEGMENTS = 6;
const TLS_SERVER_MAX = 24 * 1024;
/** Bytes of incomplete server flights held by all flows at once (a flood of stalled handshakes). */
const TLS_SERVER_BUDGET = 32 * 1024 * 1024;
/** Live flows ended at once at the end of input before their records are handed on. */
const FLUSH_SLICE = 16384;

/**
 * The pipeline's first stages, per packet: decode, account to a flow, pull
 * names and device facts out of the few payloads that carry them (everything
 * else is skipped), and hand each ended flow on as a record.
 */
export class FlowMeter {
  readonly warnings = new DecodeWarnings();
  readonly inventory: Inventory;
  readonly names = new DnsNameCache();
  readonly table: FlowTable;
  packets = 0;
  bytes = 0;
  flows = 0;
  dnsMessages = 0;
  epoch = 0;
  /** index of the packet being analysed in the whole input (a shard worker is told it) */
  packetIndex = 0;
  /** where packets are decoded; see onDecoded() */
  readonly decoded: Decoded = newDecoded();
  private readonly d = this.decoded;
  private readonly ownClock: boolean;
  /** a shard worker's decode warnings are counted by the router, which decodes every packet */
  private readonly decodeWarn: DecodeWarnings;
  /** where payload parsers report; muted while reading another shard's shared facts */
  private warn: DecodeWarnings;
  private ended: Ended[] = [];
  private readonly locality: Locality;
  /** bytes held in Flow.tlsServerBuf by live flows */
  private tlsServerHeld = 0;
  private readonly certificates = new CertificateJudge();
  /** credentials in clear and port mapping requests, for detection */
  private readonly payloadFacts = new PayloadFacts();

  constructor(
    private readonly sinks: MeterSinks,
    opts: MeterOptions = {},
  ) {
    this.ownClock = !opts.shardWorker;
    this.decodeWarn = this.ownClock ? this.warnings : MUTED;
    this.warn = this.warnings;
    // Each run learns its own link: the locality is never shared between meters.
    this.locality = new Locality(opts.localNetworks ?? []);
    this.inventory = new Inventory(opts.maxDevices ?? DEFAULT_MAX_DEVICES, sinks.device, sinks.evictedSnapshot);
    this.table = new FlowTable((f, why) => this.flowEnded(f, why), { ...DEFAULT_TIMEOUTS, ...opts.timeouts }, opts.maxFlows ?? DEFAULT_MAX_FLOWS, this.locality);
  }

  readonly onPacket = (p: RawPacket): void => {
    this.onDecoded(p, decodePacket(p, this.d, this.decodeWarn));
  };

  /**
   * The packet as decoded into `decoded` (false: not an IP packet we follow).
   * A shard that reads its own input decodes there once to route the packet.
   */
  onDecoded(p: RawPacket, ok: boolean): void {
    this.packets++;
    this.bytes += p.wirelen;
    const d = this.d;
    // Decoding touches no flow, so the sweep may follow it; d.ts saves computing the time twice.
    if (this.ownClock) {
      this.packetIndex = this.packets;
      if (isEpochEnd(this.table.tick(d), this.packets)) this.endEpoch();
    }
    if (!ok) return this.arp(d);
    if (d.proto === ICMP6) this.neighbour(d);
    const flow = this.table.update(d);
    if (flow.localVersion !== this.locality.version) this.relocate(flow);
    const orig = this.table.isOrig;
    if (orig ? flow.srcLocal : flow.dstLocal) this.sawLocalSender(d, flow, orig);
    if (flow.srcPkts + flow.dstPkts === 1 && flow.srcLocal && !flow.dstLocal) this.name(flow, d.ts);
    if (d.payLen === 0) return;
    if (d.proto === UDP) this.udpPayload(d, flow, orig);
    else if (d.proto === TCP) this.tcpPayload(d, flow, orig);
  }

  /** A shard worker: the router's clock says sweep now (and end the epoch). */
  sweep(ts: number): void {
    this.table.sweep(ts);
    this.endEpoch();
  }

  /** A shard worker: the router's clock says the epoch ends. */
  epochEnd(): void {
    this.endEpoch();
  }

  /** A shard worker: another shard's packet that every shard reads (see isSharedFact), or ARP. */
  readonly sharedPacket = (p: RawPacket): void => {
    this.onDecodedShared(decodePacket(p, this.d, MUTED));
  };

  /** sharedPacket() for a packet already in `decoded` */
  onDecodedShared(ok: boolean): void {
    const d = this.d;
    if (!ok) this.arp(d);
    else if (isSharedFact(d)) this.sharedFact(d);
  }

  /** The name the flow's initiator resolved its destination by; a flow resuming an idle session already has its session's. */
  private name(flow: Flow, ts: number): void {
    const byIp = this.names.lookup(flow.srcIp, flow.dstIp, ts);
    const byMac = flow.srcMac >= 0 ? this.names.lookup(macKey(flow.srcMac), flow.dstIp, ts) : byIp;
    flow.dnsName = byIp.name ?? byMac.name ?? flow.dnsName;
    flow.resolved ||= byIp.resolved || byMac.resolved;
  }

  /**
   * Addresses learnt on the link since the flow was judged local or not (its
   * first packets may come before the ARP or neighbour discovery that shows
   * the host is here): an end learnt since is local now. A flow that became
   * outbound this way is named as it would have been at its first packet.
   */
  private relocate(flow: Flow): void {
    const where = this.locality;
    const wasOutbound = flow.srcLocal && !flow.dstLocal;
    flow.srcLocal ||= where.localText(flow.srcIp, flow.v6);
    flow.dstLocal ||= where.localText(flow.dstIp, flow.v6);
    flow.localVersion = where.version;
    if (!wasOutbound && flow.srcLocal && !flow.dstLocal) this.name(flow, flow.first);
  }

  /** IPv6 neighbour discovery (solicitation 135, advertisement 136): its target address is on the link. */
  private neighbour(d: Decoded): void {
    if ((d.icmpType !== 135 && d.icmpType !== 136) || d.payLen < 20) return;
    this.locality.learn6(ip6String(d.data, d.payOff + 4));
  }

  private arp(d: Decoded): void {
    if (!d.isArp || d.srcMac < 0) return;
    const arp = parseArp(d.data, d.payOff, d.payLen);
    // Whoever sends ARP is on the link, whatever its address.
    if (arp) this.locality.learn4(arp.ip);
    if (arp && this.locality.local4(arp.ip)) this.inventory.seen(arp.mac, arp.ip === 0 ? '' : ip4String(arp.ip), d.ts);
  }

  /** Another shard's DNS answer, DHCP or SSDP packet: only the names and device facts in it. */
  private sharedFact(d: Decoded): void {
    if (d.proto === ICMP6) return this.neighbour(d);
    this.warn = MUTED;
    try {
      const { sport, dport } = d;
      const src = d.ipVersion === 4 ? ip4String(d.src4) : ip6String(d.data, d.src6Off);
      const tcp = d.proto === TCP;
      // In the order udpPayload asks, so an odd port pair goes the same way in every shard.
      const dnsProto = tcp ? 'dns' : (DNS_PORTS[sport] ?? DNS_PORTS[dport]);
      if (!dnsProto) {
        if (isDhcp(sport, dport)) this.dhcp(d);
        else if (isDhcp6(sport, dport)) this.dhcp6(d);
        else if (isSsdp(sport, dport)) this.ssdp(d, src);
        return;
      }
      const n = tcp ? tcpDnsLength(d.data, d.payOff, d.payLen) : d.payLen;
      if (n < 0) return;
      const r = parseDns(d.data, tcp ? d.payOff + 2 : d.payOff, n, true);
      const dst = d.ipVersion === 4 ? ip4String(d.dst4) : ip6String(d.data, d.dst6Off);
      if (!('error' in r)) this.dnsNames(d, r, dnsProto, src, dst);
    } finally {
      this.warn = this.warnings;
    }
  }

  /** Releases the flows that ended in this epoch, in canonical order. */
  private endEpoch(): void {
    boundHeapGrowth();
    const batch = this.ended;
    if (batch.length > 0) {
      this.ended = [];
      batch.sort(compareEnded);
      const flow = this.sinks.flow;
      if (flow) for (const e of batch) this.deliver(flow, e);
    }
    this.sinks.epoch?.(this.epoch);
    this.epoch++;
  }

  private sawLocalSender(d: Decoded, flow: Flow, orig: boolean): void {
    const ip = orig ? flow.srcIp : flow.dstIp;
    // DHCP clients send from 0.0.0.0 before they have an address.
    if (this.inventory.sawPacket(d, ip === '0.0.0.0' || ip === '::' ? '' : ip) && orig) flow.srcTracked = true;
  }

  private udpPayload(d: Decoded, flow: Flow, orig: boolean): void {
    const { sport, dport } = d;
    const dnsProto = DNS_PORTS[sport] ?? DNS_PORTS[dport];
    if (dnsProto) return this.dns(d, flow, orig, d.payOff, d.payLen, dnsProto);
    if (isDhcp(sport, dport)) return this.dhcp(d);
    if (isDhcp6(sport, dport)) return this.dhcp6(d);
    if (isSsdp(sport, dport)) return this.ssdp(d, orig ? flow.srcIp : flow.dstIp);
    this.payloadFacts.udp(d, flow, orig);
  }

  private tcpPayload(d: Decoded, flow: Flow, orig: boolean): void {
    if (d.sport === 53 || d.dport === 53) {
      // DNS over TCP: a 2-byte length, then the message; only whole messages in one segment are read.
      const n = tcpDnsLength(d.data, d.payOff, d.payLen);
      if (n >= 0) this.dns(d, flow, orig, d.payOff + 2, n, 'dns');
      return;
    }
    if (this.payloadFacts.watched(flow)) this.payloadFacts.tcp(d, flow, orig);
    if (!orig) {
      if (flow.tlsServerTries >= 0) this.tlsServer(flow, d);
      return;
    }
    if (flow.appTries >= APP_SEGMENTS) return;
    flow.appTries++;
    this.payloadFacts.request(d, flow);
    const b = d.data;
    if (flow.tlsBuf) {
      const joined = Buffer.concat([flow.tlsBuf, b.subarray(d.payOff, d.payOff + d.payLen)]);
      if (joined.length >= flow.tlsNeed) {
        flow.tlsBuf = null;
        this.tls(flow, joined, 0, joined.length);
      } else flow.tlsBuf = joined;
      return;
    }
    if (flow.sni === null && b[d.payOff] === 0x16) this.tls(flow, b, d.payOff, d.payLen);
    else if (flow.httpHost === null) {
      const req = parseHttpRequest(b, d.payOff, d.payLen);
      if (req) {
        flow.httpHost = req.host;
        flow.userAgent = req.userAgent;
        if (req.userAgent && flow.srcLocal) this.inventory.userAgent(flow.srcMac, flow.srcIp, req.userAgent, d.ts);
      }
    }
  }

  private tls(flow: Flow, b: Buffer, off: number, len: number): void {
    const r = parseClientHello(b, off, len);
    if (r === null) return;
    if ('needMore' in r) {
      if (r.needMore <= TLS_MAX_HELLO && flow.tlsNeed === 0) {
        flow.tlsBuf = Buffer.from(b.subarray(off, off + len));
        flow.tlsNeed = r.needMore;
      } else this.warn.add('tls_truncated');
      return;
    }
    if ('error' in r) return this.warn.add(r.error);
    flow.sni = r.sni;
    flow.alpn = r.alpn;
    // The first hello names the client (a TLS 1.3 HelloRetryRequest makes it send a second one).
    if (flow.ja4 !== null) return;
    const fp = fingerprints(r);
    flow.ja3 = fp.ja3;
    flow.ja4 = fp.ja4;
  }

  /**
   * A responder segment of a TCP flow whose responder answers with a TLS handshake record
   * (whatever the client's hello looked like, SSLv2-compatible ones included): the server's
   * flight, joined in arrival order until its leaf certificate is whole. A capture that
   * reorders or repeats those segments breaks the record framing, and the facts stay unknown.
   */
  private tlsServer(flow: Flow, d: Decoded): void {
    const seg = d.data.subarray(d.payOff, d.payOff + d.payLen);
    if (flow.tlsServerTries === 0 && (seg[0] !== 0x16 || seg[1] !== 3)) {
      flow.tlsServerTries = -1;
      return;
    }
    const held = flow.tlsServerBuf;
    const bytes = held ? Buffer.concat([held, seg]) : seg;
    const r = serverCertificate(bytes);
    flow.tlsServerTries++;
    if ('needMore' in r) {
      const keep = flow.tlsServerTries < TLS_SERVER_SEGMENTS && bytes.length <= TLS_SERVER_MAX && this.tlsServerHeld + seg.length <= TLS_SERVER_BUDGET;
      if (keep) {
        // The first segment is a view into the capture's buffer, which is reused.
        flow.tlsServerBuf = held ? bytes : Buffer.from(seg);
        this.tlsServerHeld += seg.length;
      } else this.tlsServerDone(flow);
      return;
    }
    this.tlsServerDone(flow);
    if (!('cert' in r)) return;
    const facts = this.certificates.facts(r.cert, flow.sni, flow.first);
    if (facts === null) return this.warn.add('tls_malformed');
    flow.tlsSelfSigned = facts.selfSigned;
    flow.tlsCertExpired = facts.expired;
    flow.tlsNameMismatch = facts.nameMismatch;
  }

  private tlsServerDone(flow: Flow): void {
    if (flow.tlsServerBuf) this.tlsServerHeld -= flow.tlsServerBuf.length;
    flow.tlsServerBuf = null;
    flow.tlsServerTries = -1;
  }

  private dns(d: Decoded, flow: Flow, orig: boolean, off: number, len: number, proto: DnsRecord['proto']): void {
    // Full records only when someone writes them out; names need only the addresses.
    const r = parseDns(d.data, off, len, this.sinks.dns === undefined);
    if ('error' in r) return this.warn.add(r.error);
    this.dnsMessages++;
    const srcIp = orig ? flow.srcIp : flow.dstIp;
    const dstIp = orig ? flow.dstIp : flow.srcIp;
    if (proto === 'dns' && r.query !== null) addDnsFact((flow.app ??= {}), d.ts, r.query, r.qtype, r.isResponse, r.rcode, r.answerCount);
    if (this.sinks.dns) {
      this.sinks.dns(
        {
          ts: d.ts,
          src_ip: srcIp,
          src_mac: d.srcMac >= 0 ? macString(d.srcMac) : null,
          dst_ip: dstIp,
          dst_port: d.dport,
          proto,
          is_response: r.isResponse,
          id: r.id,
          rcode: r.rcode,
          query: r.query,
          qtype: r.qtype,
          answers: r.answers,
        },
        this.packetIndex,
      );
    }
    this.dnsNames(d, r, proto, srcIp, dstIp);
  }

  /** What an answer teaches: which name the client resolved to which address; mDNS hosts' own names. */
  private dnsNames(d: Decoded, r: DnsMessage, proto: DnsRecord['proto'], srcIp: string, dstIp: string): void {
    if (!r.isResponse) return;
    if (proto === 'mdns') this.mdnsNames(d, srcIp, r);
    else if (r.query !== null) {
      // Also by the client's MAC: a device that routes for others (a setup access point,
      // a bridge) resolves from one address and connects from another.
      for (const a of r.answers) {
        if (a.type !== 'A' && a.type !== 'AAAA') continue;
        this.names.remember(dstIp, a.data, r.query, d.ts, a.ttl);
        if (d.dstMac >= 0) this.names.remember(macKey(d.dstMac), a.data, r.query, d.ts, a.ttl);
      }
    }
  }

  /** A host answering for its own address in mDNS is telling us its name. */
  private mdnsNames(d: Decoded, srcIp: string, r: DnsMessage): void {
    for (const a of [...r.answers, ...r.additionals]) {
      if ((a.type === 'A' || a.type === 'AAAA') && a.data === srcIp) this.inventory.hostname(d.srcMac, srcIp, a.name, d.ts);
    }
  }

  private dhcp(d: Decoded): void {
    const r = parseDhcp(d.data, d.payOff, d.payLen);
    if (r === null) return;
    if ('error' in r) return this.warn.add(r.error);
    if (r.clientMac === null) return;
    // Only what the client says about itself describes the device (requests), plus the address it is given.
    if (r.messageType === 1 || r.messageType === 3 || r.messageType === 8) {
      this.inventory.dhcp(r.clientMac, d.ts, {
        hostname: r.hostname,
        vendorClass: r.vendorClass,
        fingerprint: r.paramRequestList ? r.paramRequestList.join(',') : null,
        mudUrl: r.mudUrl,
        joining: r.messageType === 1 || r.messageType === 3,
      });
    } else if (r.messageType === 5 && r.yourIp !== null) {
      this.inventory.seen(r.clientMac, ip4String(r.yourIp), d.ts);
    }
  }

  private dhcp6(d: Decoded): void {
    const r = parseDhcp6(d.data, d.payOff, d.payLen);
    if (r === null) return;
    if ('error' in r) return this.warn.add(r.error);
    if (d.srcMac < 0 || d.sport !== 546) return;
    this.inventory.dhcp(d.srcMac, d.ts, { hostname: r.fqdn, vendorClass: r.vendorClass, mudUrl: r.mudUrl });
  }

  private ssdp(d: Decoded, ip: string): void {
    const r = parseSsdp(d.data, d.payOff, d.payLen);
    if (!r) return;
    const local = d.ipVersion === 4 ? this.locality.local4(d.src4) : this.locality.local6(d.data, d.src6Off, ip);
    if (!local) return;
    if (r.server && r.kind !== 'search') this.inventory.ssdpServer(d.srcMac, ip, r.server, d.ts);
    if (r.userAgent) this.inventory.userAgent(d.srcMac, ip, r.userAgent, d.ts);
  }

  private flowEnded(f: Flow, reason: FlowEndReason): void {
    if (f.tlsServerBuf) this.tlsServerDone(f);
    if (f.localVersion !== this.locality.version) this.relocate(f);
    this.flows++;
    const serverName = f.sni ?? f.httpHost ?? f.dnsName;
    this.inventory.flowEnded(f, serverName);
    if (!this.sinks.flow || (this.sinks.outboundOnly && !(f.srcLocal && !f.dstLocal))) return;
    this.ended.push({ rec: flowRecord(f, reason, serverName), resolved: f.resolved, tracked: f.srcTracked, ends: { srcLocal: f.srcLocal, dstLocal: f.dstLocal }, app: f.app });
  }

  /**
   * End of input: emit every live flow. They end in the last epoch, released
   * in its order a slice at a time (a flood leaves hundreds of thousands live).
   */
  finish(): DeviceRecord[] {
    this.table.flushInOrder(FLUSH_SLICE, (upTo) => this.releaseUpTo(upTo));
    this.endEpoch();
    return this.inventory.records();
  }

  /** Delivers the ended flows that began at or before `upTo`: every later one of this epoch begins after them. */
  private releaseUpTo(upTo: number): void {
    const flow = this.sinks.flow;
    if (!flow) return;
    const now = this.ended.filter((e) => e.rec.ts <= upTo);
    this.ended = this.ended.filter((e) => e.rec.ts > upTo);
    now.sort(compareEnded);
    for (const e of now) this.deliver(flow, e);
  }

  private deliver(flow: NonNullable<MeterSinks['flow']>, e: Ended): void {
    const { rec, ends } = e;
    const responder = ends.dstLocal && !ends.srcLocal ? this.inventory.facts(rec.dst_mac, rec.dst_ip) : null;
    flow(rec, this.inventory.facts(rec.src_mac, rec.src_ip, e.tracked), e.resolved, ends, { app: e.app, responder });
  }
}

/** A DNS client by its MAC (answers are also kept by its address: links like Linux cooked captures show no destination MAC). */
const macKey = (mac: number): string => `m${mac}`;

const compareEnded = (a: Ended, b: Ended) => compareFlows(a.rec, b.rec);
