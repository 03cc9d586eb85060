import { phonehomeView } from './phonehome.js';
import { tsharkView } from './tshark.js';

/** Totals of what the comparisons looked at, so a test can prove it compared something. */
export const seen = { conversations: 0, dns: 0, sni: 0, communityIds: 0 };

function endpoint(ip: string, port: number): string {
  return `${ip}:${port}`;
}

type Conv = Map<string, { frames: number; bytes: number | null }>;

function counts(list: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of list) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

function diffCounts(what: string, ours: Map<string, number>, theirs: Map<string, number>): string[] {
  const out: string[] = [];
  for (const k of new Set([...ours.keys(), ...theirs.keys()])) {
    if ((ours.get(k) ?? 0) !== (theirs.get(k) ?? 0)) out.push(`${what} ${JSON.stringify(k)}: phonehome ${ours.get(k) ?? 0}, tshark ${theirs.get(k) ?? 0}`);
  }
  return out;
}

/** Differences between phonehome and tshark on one capture, one line each (empty: they agree). */
export async function compareWithTshark(file: string): Promise<string[]> {
  const [t, p] = await Promise.all([tsharkView(file), phonehomeView([file])]);
  const problems: string[] = [];
  const theirs = new Map<string, Conv>();
  seen.conversations += t.conversations.length;
  seen.dns += t.dnsQueries.length;
  seen.sni += t.sni.length;
  for (const c of t.conversations) {
    const key = `${c.proto} ${[c.a, c.b].sort().join(' ')}`;
    const conv: Conv = theirs.get(key) ?? new Map();
    const add = (ep: string, frames: number, bytes: number | null) => {
      const e = conv.get(ep) ?? { frames: 0, bytes: 0 };
      e.frames += frames;
      e.bytes = e.bytes === null || bytes === null ? null : e.bytes + bytes;
      conv.set(ep, e);
    };
    add(c.a, c.aFrames, c.aBytes);
    add(c.b, c.bFrames, c.bBytes);
    theirs.set(key, conv);
  }
  const ours = new Map<string, Conv>();
  for (const f of p.flows) {
    if (f.proto !== 'tcp' && f.proto !== 'udp') continue;
    const a = endpoint(f.src_ip, f.src_port);
    const b = endpoint(f.dst_ip, f.dst_port);
    const key = `${f.proto} ${[a, b].sort().join(' ')}`;
    const conv: Conv = ours.get(key) ?? new Map();
    const add = (ep: string, frames: number, bytes: number) => {
      const e = conv.get(ep) ?? { frames: 0, bytes: 0 };
      e.frames += frames;
      e.bytes = (e.bytes ?? 0) + bytes;
      conv.set(ep, e);
    };
    add(a, f.src_pkts, f.src_bytes);
    add(b, f.dst_pkts, f.dst_bytes);
    ours.set(key, conv);
  }
  for (const key of new Set([...theirs.keys(), ...ours.keys()])) {
    const o = ours.get(key);
    const th = theirs.get(key);
    if (!o || !th) {
      problems.push(`conversation ${key} only in ${o ? 'phonehome' : 'tshark'}`);
      continue;
    }
    for (const [ep, e] of th) {
      const mine = o.get(ep) ?? { frames: 0, bytes: 0 };
      if (mine.frames !== e.frames) problems.push(`conversation ${key}: ${ep} sent ${mine.frames} frames per phonehome, ${e.frames} per tshark`);
      else if (e.bytes !== null && e.frames > 0 && mine.bytes !== e.bytes) problems.push(`conversation ${key}: ${ep} sent ${mine.bytes} bytes per phonehome, ${e.bytes} per tshark`);
    }
  }
  problems.push(...diffCounts('DNS query', counts(p.dns.filter((d) => d.query !== null).map((d) => d.query!)), counts(t.dnsQueries)));
  problems.push(...diffCounts('SNI', counts([...new Set(p.flows.map((f) => f.sni).filter((s): s is string => s !== null))]), counts([...new Set(t.sni)])));
  const ourIds = new Set(p.flows.map((f) => f.community_id).filter((c): c is string => c !== null));
  for (const c of t.communityIds) if (!ourIds.has(c)) problems.push(`community_id ${c} computed by tshark, not by phonehome`);
  for (const c of ourIds) if (!t.communityIds.has(c)) problems.push(`community_id ${c} computed by phonehome, not by tshark`);
  seen.communityIds += t.communityIds.size;
  return problems.map((x) => `${file}: ${x}`);
}

