import { BlockList, isIP } from 'node:net';
import type { AlertRecord, GeoWatch } from '../../../contract/types.js';
import { ccTlds, dnsName, SuffixMap } from '../../enrich/cctld.js';
import type { GeoInfo } from '../../enrich/geoip.js';
import { deviceLabel, destinationOf, type DetectionConfig, type JudgedFlow, type Rule, type WatchedOrganisation } from '../rule.js';

/** Addresses listed in an alert's evidence at most. */
const MAX_ADDRESSES = 100;
/** Names whose verdict is remembered at most (bounds memory under a flood of names). */
const NAMES_KEPT = 10_000;

/**
 * A connection to a watched country (an address there, an operator
 * headquartered there, a name under its ccTLD), autonomous system, network
 * or name suffix. One alert per device and watched party: the operator, else
 * the country, AS, network or name suffix, whatever addresses it took.
 */
export const geoCallback: Rule = {
  id: 'geo-callback',
  summary: 'a device connects to a watched country (an address there, an operator headquartered there, a name under its ccTLD), autonomous system, network or name suffix',
  defaults: { enabled: true, severity: 'high', mitre: ['T1071', 'T1041'], params: {} },
  evidence: ['watch', 'addresses'],
  create: ({ config, raise }) => {
    const watch = new Watch(config);
    return {
      flow(j) {
        const v = watch.judge(j);
        if (!v) return;
        const f = j.flow;
        const name = f.server_name;
        raise(j, {
          key: v.key,
          destination: () => destinationOf(j, name, true),
          message: () => `${deviceLabel(j.device)} connected to ${(name ?? v.name) ? `${name ?? v.name} (${f.dst_ip})` : f.dst_ip}: ${v.reason}`,
          reason: () => v.reason,
          evidence: (e) => addEvidence(e, v, f.dst_ip),
        });
      },
    };
  },
};

type By = GeoWatch['by'][number];
const BY_ORDER: By[] = ['country', 'operator', 'asn', 'network', 'name'];

/** Why a flow is watched. */
interface Verdict extends GeoWatch {
  /** the alert it belongs to, for its device: the operator, else the country, AS, network or name suffix */
  key: string;
  reason: string;
}

/** What the destination's country and AS say (the same for every address with the same GeoIP answer). */
interface AddressVerdict {
  country: string | null;
  operator: WatchedOrganisation | null;
  asn: number | null;
}

/** A name watched: under a watched country's ccTLD (its code) or a watched suffix (null). */
interface NameHit {
  name: string;
  suffix: string;
  country: string | null;
}

/** Whether a name pattern of watch.organisations can be used; what is wrong with it otherwise. */
export function namePatternProblem(pattern: string): string | null {
  if (!isRegex(pattern)) return null;
  let re: RegExp;
  try {
    re = new RegExp(pattern.slice(1, -1), 'i');
  } catch (e) {
    return `is not a regular expression (${(e as Error).message})`;
  }
  return re.test('') ? 'matches every name' : null;
}

const isRegex = (p: string): boolean => p.length > 2 && p.startsWith('/') && p.endsWith('/');

/** A name pattern as a test of an AS organisation name: a case-insensitive substring, or a /regular expression/. */
function namePattern(p: string): (org: string) => boolean {
  if (isRegex(p)) {
    const re = new RegExp(p.slice(1, -1), 'i');
    return (org) => re.test(org);
  }
  const sub = p.toLowerCase();
  return (org) => org.toLowerCase().includes(sub);
}

/** The watch lists of a detections file, ready to judge flows. */
class Watch {
  private readonly countries: Set<string>;
  private readonly asns: Set<number>;
  private readonly networks: [string, BlockList, 'ipv4' | 'ipv6'][];
  /** operators whose headquarters' country is watched: by AS number, and by name pattern */
  private readonly byAsn = new Map<number, WatchedOrganisation>();
  private readonly byName: [WatchedOrganisation, (org: string) => boolean][] = [];
  private readonly suffixes = new SuffixMap<string | null>();
  /** verdicts by GeoIP answer (answers are shared objects, one per distinct record) */
  private readonly byGeo = new WeakMap<GeoInfo, AddressVerdict | null>();
  /** name verdicts by name as the flow gives it */
  private readonly names = new Map<string, NameHit | null>();

  constructor(c: DetectionConfig) {
    this.countries = new Set(c.watchCountries);
    this.asns = new Set(c.watchAsns);
    this.networks = c.watchNetworks.map((n) => {
      const [addr, len] = n.split('/');
      const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      const b = new BlockList();
      b.addSubnet(addr, Number(len), family);
      return [n, b, family];
    });
    for (const o of c.watchOrganisations) {
      if (!this.countries.has(o.country)) continue;
      for (const a of o.asns) if (!this.byAsn.has(a)) this.byAsn.set(a, o);
      for (const p of o.names) this.byName.push([o, namePattern(p)]);
    }
    for (const cc of c.watchCountries) for (const tld of ccTlds(cc)) this.suffixes.add(tld, cc);
    for (const s of c.watchNameSuffixes) this.suffixes.add(s, null);
  }

  judge(j: JudgedFlow): Verdict | null {
    const f = j.flow;
    const address = this.address(j.dst);
    const network = this.networks.length ? this.network(f.dst_ip) : null;
    const name = this.suffixes.size === 0 ? null : this.nameHit(f.sni) ?? this.nameHit(f.http_host) ?? this.nameHit(f.dns_name);
    if (!address && !network && !name) return null;
    return verdict(j.dst, address, network, name);
  }

  /** The watched network holding ip, as written in watch.networks. */
  private network(ip: string): string | null {
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    return this.networks.find(([, b, fam]) => fam === family && b.check(ip, family))?.[0] ?? null;
  }

  private address(geo: GeoInfo): AddressVerdict | null {
    let v = this.byGeo.get(geo);
    if (v === undefined) {
      const country = geo.country !== null && this.countries.has(geo.country) ? geo.country : null;
      const operator = this.operator(geo);
      const asn = geo.asn !== null && this.asns.has(geo.asn) ? geo.asn : null;
      v = country || operator || asn !== null ? { country, operator, asn } : null;
      this.byGeo.set(geo, v);
    }
    return v;
  }

  private operator(geo: GeoInfo): WatchedOrganisation | null {
    if (geo.asn !== null) {
      const o = this.byAsn.get(geo.asn);
      if (o) return o;
    }
    const org = geo.as_org;
    if (org) for (const [o, matches] of this.byName) if (matches(org)) return o;
    return null;
  }

  /** The watched suffix a name (SNI, HTTP Host or DNS name) is under, if any; remembered by name, since devices repeat theirs. */
  private nameHit(n: string | null): NameHit | null {
    if (n === null) return null;
    let hit = this.names.get(n);
    if (hit === undefined) {
      const name = dnsName(n);
      const found = name === null ? null : this.suffixes.find(name);
      hit = found ? { name: name!, suffix: found.suffix, country: found.value } : null;
      if (this.names.size >= NAMES_KEPT) this.names.clear();
      this.names.set(n, hit);
    }
    return hit;
  }
}

/** Puts the reasons together: what made the call, in the alert's words and evidence. */
function verdict(geo: GeoInfo, a: AddressVerdict | null, network: string | null, name: NameHit | null): Verdict {
  const op = a?.operator ?? null;
  const by = BY_ORDER.filter((b) => (b === 'country' ? a?.country : b === 'operator' ? op : b === 'asn' ? a?.asn != null : b === 'network' ? network : name));
  const parts: string[] = [];
  if (op) parts.push(`destination operated by ${op.operator} (AS${geo.asn}${geo.as_org && geo.as_org !== op.operator ? ` ${geo.as_org}` : ''}, headquartered ${op.country})`);
  if (a?.country) parts.push(`hosted in ${a.country}, a watched country${op || geo.asn === null ? '' : ` (AS${geo.asn}${geo.as_org ? ` ${geo.as_org}` : ''})`}`);
  if (a?.asn != null && !op) parts.push(`AS${a.asn}${geo.as_org ? ` ${geo.as_org}` : ''}, a watched AS`);
  if (network) parts.push(`in ${network}, a watched network`);
  // where an address in an unwatched country is hosted, said after the first reason
  const hosted = !a?.country && geo.country ? `, hosted in ${geo.country}` : '';
  const byAddress = parts.length;
  if (byAddress) parts[0] += hosted;
  if (name) parts.push(`name under .${name.suffix}${name.country ? ` (${name.country}, a watched country)` : ', a watched name suffix'}${byAddress ? '' : hosted}`);
  const reason = parts.join('; ');
  const country = a?.country ?? op?.country ?? name?.country ?? null;
  const key = op ? `operator:${op.operator}` : a?.country ? `country:${a.country}` : a?.asn != null ? `asn:${a.asn}` : network ? `network:${network}` : `name:${name!.country ?? name!.suffix}`;
  return { key, reason, by, country, operator: op?.operator ?? null, asn: op || a?.asn != null ? geo.asn : null, name: name?.name ?? null };
}

/** The alert's watch evidence: every reason seen over its flows, the first of each value, the distinct addresses. */
function addEvidence(e: AlertRecord['evidence'], v: Verdict, ip: string): void {
  const w = e.watch;
  if (!w) e.watch = { by: [...v.by], country: v.country, operator: v.operator, asn: v.asn, name: v.name };
  else {
    if (v.by.some((b) => !w.by.includes(b))) w.by = BY_ORDER.filter((b) => w.by.includes(b) || v.by.includes(b));
    w.country ??= v.country;
    w.operator ??= v.operator;
    w.asn ??= v.asn;
    w.name ??= v.name;
  }
  const list = (e.addresses ??= []);
  if (list.length < MAX_ADDRESSES && !list.includes(ip)) list.push(ip);
}
