import type { FlowRecord } from '../../contract/types.js';
import { communityId } from '../flows/community-id.js';
import { protoName, type Flow, type FlowEndReason } from '../flows/flow.js';
import { macString } from '../util/addr.js';

/** The record of an ended flow, as flows.jsonl holds it; enrichment fills dst_country and dst_asn. */
export function flowRecord(f: Flow, reason: FlowEndReason, serverName: string | null): FlowRecord {
  const cid = communityId(f);
  return {
    uid: flowUid(cid, f.first),
    community_id: cid,
    ts: f.first,
    duration: Math.round((f.last - f.first) * 1e6) / 1e6,
    proto: protoName(f.proto),
    src_ip: f.srcIp,
    src_port: f.sport,
    dst_ip: f.dstIp,
    dst_port: f.dport,
    src_mac: f.srcMac >= 0 ? macString(f.srcMac) : null,
    dst_mac: f.dstMac >= 0 ? macString(f.dstMac) : null,
    src_pkts: f.srcPkts,
    src_bytes: f.srcBytes,
    dst_pkts: f.dstPkts,
    dst_bytes: f.dstBytes,
    state: f.state,
    mid_stream: f.midStream,
    sni: f.sni,
    alpn: f.alpn,
    ja3: f.ja3,
    ja4: f.ja4,
    tls_self_signed: f.tlsSelfSigned,
    tls_cert_expired: f.tlsCertExpired,
    tls_name_mismatch: f.tlsNameMismatch,
    http_host: f.httpHost,
    user_agent: f.userAgent,
    dns_name: f.dnsName,
    server_name: serverName,
    // filled by the enrich stage
    dst_country: null,
    dst_asn: null,
    dst_as_org: null,
    end_reason: reason,
  };
}

/** First packet time, then uid (a hash of the Community ID and that time): one order whatever the sharding. */
export function compareFlows(x: FlowRecord, y: FlowRecord): number {
  return compareFlowKeys(x.ts, x.uid, x.src_pkts + x.dst_pkts, y.ts, y.uid, y.src_pkts + y.dst_pkts);
}

export function compareFlowKeys(ts1: number, uid1: string, pkts1: number, ts2: number, uid2: string, pkts2: number): number {
  if (ts1 !== ts2) return ts1 - ts2;
  if (uid1 !== uid2) return uid1 < uid2 ? -1 : 1;
  return pkts1 - pkts2;
}

const UID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Same flow, same capture: same uid, whichever run or sensor produced it. Two
 * 32-bit FNV-1a lanes over the Community ID and the first timestamp: a second
 * SHA-1 per flow showed in profiles, and uniqueness, not secrecy, is needed.
 */
export function flowUid(communityIdValue: string, firstTs: number): string {
  // Two FNV-1a lanes over `${communityIdValue}|${firstTs.toFixed(6)}`, fed a part at a time so it is never built.
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < communityIdValue.length; i++) {
    const c = communityIdValue.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  h1 = Math.imul(h1 ^ 0x7c, 0x01000193);
  h2 = Math.imul(h2 ^ 0x7c, 0x5bd1e995) ^ (h2 >>> 15);
  const t = firstTs.toFixed(6);
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  const c = UID_CODES;
  for (let i = 0; i < 17; i++) {
    const lane = i & 1 ? h2 : h1;
    const shift = ((i >> 1) % 4) * 6;
    c[i + 1] = UID_CHARS.charCodeAt(((lane >>> shift) & 0xffff) % 62);
    if ((i & 1) === 1) {
      h1 = Math.imul(h1 ^ (h1 >>> 13), 0x85ebca6b);
      h2 = Math.imul(h2 ^ (h2 >>> 16), 0xc2b2ae35);
    }
  }
  // One string at the end: appending a letter at a time made a string per letter.
  return String.fromCharCode(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15], c[16], c[17]);
}

/** 'C' and the 17 letters of a uid, filled by flowUid */
const UID_CODES: number[] = new Array<number>(18).fill(67);
