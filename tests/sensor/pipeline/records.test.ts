// Flow records: uids are a function of the Community ID and the first packet's
// time, flows sort by time, uid and packets, and each record's community_id is
// the one tshark computes for the same packets.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { compareFlowKeys, compareFlows, flowUid } from '../../../sensor/pipeline/records.js';
import { packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, type Endpoint } from '../../helpers/build.js';
import { fixture } from '../../helpers/corpus.js';
import { capture } from '../../helpers/detection.js';
import { ping, tcp6Session } from '../../helpers/frames.js';
import { phonehomeView } from '../../helpers/phonehome.js';
import { rng } from '../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const CID = '1:LQU9qZlK+B5F3KDmev6m5PMibrg=';
const ALL_FIXTURES = ['HueBridge', 'HueSwitch', 'TP-LinkPlugHS110', 'WeMoSwitch', 'D-LinkCam', 'EdimaxCam1', 'Withings'];

describe('flowUid', () => {
  it('gives the same uid for the same Community ID and first-packet time, in the form C + 17 letters or digits', () => {
    expect(flowUid(CID, T0 + 0.123456)).toBe(flowUid(CID, T0 + 0.123456));
    expect(flowUid(CID, T0 + 0.123456)).toMatch(/^C[A-Za-z0-9]{17}$/);
  });

  it('gives another uid for a first packet one microsecond later, or for another Community ID', () => {
    const base = flowUid(CID, T0 + 0.123456);
    expect(flowUid(CID, T0 + 0.123457)).not.toBe(base);
    expect(flowUid(CID, T0 + 1.123456)).not.toBe(base);
    expect(flowUid('1:d/FP5EW3wiY1vCndhwleRRKHowQ=', T0 + 0.123456)).not.toBe(base);
  });

  it('every flow of the bundled captures has the uid of its own Community ID and first-packet time, and no two flows share one', async () => {
    const v = await phonehomeView(ALL_FIXTURES.map(fixture));
    expect(v.flows.length).toBeGreaterThan(400);
    for (const f of v.flows) expect(f.uid, `${f.community_id} ${f.ts}`).toBe(flowUid(f.community_id!, f.ts));
    const distinctFlows = new Set(v.flows.map((f) => `${f.community_id}|${f.ts.toFixed(6)}`)).size;
    expect(new Set(v.flows.map((f) => f.uid)).size).toBe(distinctFlows);
    // 200,000 distinct (Community ID, time) pairs built from the captures' ids: still no collision.
    const ids = [...new Set(v.flows.map((f) => f.community_id!))];
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) seen.add(flowUid(ids[i % ids.length], T0 + Math.floor(i / ids.length) * 0.000001));
    expect(seen.size).toBe(200_000);
  });
});

describe('compareFlowKeys', () => {
  const sign = (n: number) => Math.sign(n);

  it('orders by first-packet time before uid and packets', () => {
    expect(sign(compareFlowKeys(T0, 'Czzz', 100, T0 + 0.000001, 'CAAA', 1))).toBe(-1);
    expect(sign(compareFlowKeys(T0 + 1, 'CAAA', 1, T0, 'Czzz', 100))).toBe(1);
  });

  it('orders flows of the same time by uid, comparing code units (digits, then upper case, then lower case)', () => {
    expect(sign(compareFlowKeys(T0, 'CZ', 9, T0, 'Ca', 1))).toBe(-1);
    expect(sign(compareFlowKeys(T0, 'Cb', 1, T0, 'Ca', 9))).toBe(1);
    expect(sign(compareFlowKeys(T0, 'C9', 1, T0, 'Ca', 1))).toBe(-1);
  });

  it('orders the same time and uid by packets, fewer first, and finds identical keys equal', () => {
    expect(sign(compareFlowKeys(T0, 'Cx', 3, T0, 'Cx', 7))).toBe(-1);
    expect(sign(compareFlowKeys(T0, 'Cx', 7, T0, 'Cx', 3))).toBe(1);
    expect(compareFlowKeys(T0, 'Cx', 7, T0, 'Cx', 7)).toBe(0);
  });

  it('sorts the flows of a real capture into one order whatever order they come in', async () => {
    const v = await phonehomeView([fixture('HueBridge')]);
    const flows = v.flows;
    expect(flows.length).toBeGreaterThan(100);
    const r = rng(3);
    const orders = [0, 1, 2].map(() => [...flows].sort(() => r() - 0.5).sort(compareFlows).map((f) => f.uid));
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
    // and that order is by time first, then uid
    const sorted = [...flows].sort(compareFlows);
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [sorted[i - 1], sorted[i]];
      expect(a.ts < b.ts || (a.ts === b.ts && a.uid <= b.uid), `${a.uid} before ${b.uid}`).toBe(true);
    }
  });
});

/** tshark's Community ID for each frame, keyed by protocol and the two endpoints in either order. */
function tsharkCommunityIds(file: string): Map<string, Set<string>> {
  const out = execFileSync('tshark', [
    '-n', '--enable-protocol', 'communityid', '-r', file, '-T', 'fields', '-E', 'separator=\t',
    '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'tcp.dstport', '-e', 'udp.dstport', '-e', 'ip.proto', '-e', 'ipv6.nxt', '-e', 'communityid',
  ], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const byConv = new Map<string, Set<string>>();
  for (const line of out.trim().split('\n')) {
    const [s4, s6, d4, d6, ts, us, td, ud, p4, p6, cid] = line.split('\t');
    if (!cid) continue;
    const key = convKey(Number(p4 || p6), `${s4 || s6}:${ts || us || ''}`, `${d4 || d6}:${td || ud || ''}`);
    if (!byConv.has(key)) byConv.set(key, new Set());
    byConv.get(key)!.add(cid);
  }
  return byConv;
}

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmp6: 58 };
const convKey = (proto: number, a: string, b: string) => `${proto} ${[a, b].sort().join(' ')}`;
const ourKey = (f: FlowRecord) => {
  const ported = f.proto === 'tcp' || f.proto === 'udp';
  return convKey(PROTO[f.proto], `${f.src_ip}:${ported ? f.src_port : ''}`, `${f.dst_ip}:${ported ? f.dst_port : ''}`);
};

describe('flowRecord community_id', () => {
  it("is tshark's Community ID for each planted flow: TCP and UDP in both address orders, ICMP echo, TCP over IPv6, a capture starting at the SYN-ACK", async () => {
    const mac = '02:00:00:00:00:01';
    const gw = '02:00:00:00:00:fe';
    const low: Endpoint = { mac, ip: '10.0.0.5', port: 50123 };
    const high: Endpoint = { mac, ip: '192.168.1.20', port: 40000 };
    const server: Endpoint = { mac: gw, ip: '52.49.65.150', port: 443 };
    const v6client: Endpoint = { mac, ip: 'fd00::20', port: 51000 };
    const v6server: Endpoint = { mac: gw, ip: '2a00:1450:4001::1', port: 443 };
    const pkts = [
      // the client's address below the server's, and above it
      ...tcpSession(T0, low, server),
      ...tcpSession(T0 + 1, { ...high, ip: '60.1.1.1' }, { ...server, ip: '52.49.65.151' }),
      // UDP where the initiator's port is above the responder's
      packet(T0 + 2, udpFrame(high, { ...server, port: 123 }, Buffer.alloc(48))),
      packet(T0 + 2.1, udpFrame({ ...server, port: 123 }, high, Buffer.alloc(48))),
      // an echo request and its reply: one conversation
      ...ping(T0 + 3, high, server, 77, 1),
      ...tcp6Session(T0 + 4, v6client, v6server),
      // the capture misses the SYN: it starts at the server's SYN-ACK
      ...tcpSession(T0 + 5, { ...high, port: 40005 }, { ...server, port: 8443 }).slice(1),
      // a lone SYN from a low port to a higher one
      packet(T0 + 6, tcpFrame({ ...low, port: 80 }, { ...server, port: 8080 }, TCP_FLAGS.SYN)),
    ];
    const file = capture(pkts);
    const ours = (await phonehomeView([file])).flows;
    const theirs = tsharkCommunityIds(file);
    expect(ours.map((f) => f.proto).sort()).toEqual(['icmp', 'tcp', 'tcp', 'tcp', 'tcp', 'tcp', 'udp']);
    for (const f of ours) {
      const t = theirs.get(ourKey(f));
      expect(t, `${ourKey(f)} has tshark frames`).toBeDefined();
      expect([...t!], ourKey(f)).toEqual([f.community_id]);
    }
  });
});
