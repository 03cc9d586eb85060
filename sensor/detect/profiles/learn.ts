// Learning mode (`phonehome profiles suggest`): one draft profile per device,
// from the flows detection judges (a local device's flows to the Internet).
//
// The drafts converge: analysing the same traffic with them gives no
// undocumented-destination alert. A flow is documented by the name it
// carries (TLS SNI, HTTP Host or DNS name), as ProfileMatcher matches
// names; a flow without one by its address (or, when asked, by its
// autonomous system). Every draft is written, read back and checked
// against every distinct flow it has to document before it is returned.
import type { DeviceProfile, DocumentedDestination, FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';
import { ProfileMatcher, type FlowTarget } from './match.js';
import { hasPorts, normaliseCidr, normaliseDomain, portsText, sortPorts } from './values.js';
import { parseProfileYaml, profileToYaml } from './yaml.js';

export interface LearnOptions {
  /** document a nameless destination by its autonomous system when its AS is known, rather than by its address */
  byAsn?: boolean;
}

type Kind = 'domain' | 'asn' | 'cidr';

/** What was seen of one target (a name, an AS or an address) over one protocol. */
interface Group {
  kind: Kind;
  /** the domain, the AS number or the address */
  target: string;
  proto: string;
  ports: Set<number>;
  flows: number;
  midStream: number;
  addresses: Set<string>;
  /** operators by AS number (or by name where the AS is unknown): their names, where known */
  operators: Map<string, string | null>;
  /** names flows carried that are not domains (an address in a Host header): why they are documented otherwise */
  unusable: Set<string>;
  countries: Set<string>;
}

/** Addresses, operators and countries listed in a note; the rest are counted. */
const LISTED = 3;

class DeviceLearning {
  flows = 0;
  readonly groups = new Map<string, Group>();
  /** every distinct flow as ProfileMatcher sees one, with the key of the group whose entry documents it */
  readonly targets = new Map<string, { flow: FlowTarget; group: string }>();
  /** names other flows reached each address by, for the notes of address entries */
  readonly namesOf = new Map<string, Set<string>>();

  constructor(readonly device: DeviceFacts & { mac: string }) {}
}

/** A finished draft: the profile, its YAML text, and how its entries document the device's flows. */
export interface Draft {
  device: DeviceFacts & { mac: string };
  profile: DeviceProfile;
  yaml: string;
  /** the device's flows to the Internet */
  flows: number;
  byName: number;
  byAsn: number;
  byAddress: number;
}

/** The name a flow is documented by: its first of SNI, HTTP Host (without port) and DNS name that is a valid domain. */
export function documentableName(f: Pick<FlowRecord, 'sni' | 'http_host' | 'dns_name'>): string | null {
  for (const raw of [f.sni, f.http_host?.replace(/:\d+$/, ''), f.dns_name]) {
    if (!raw) continue;
    const c = normaliseDomain(raw);
    // A name with a "*" would be written as a wildcard: document that flow by address instead.
    if (c.problem === undefined && !c.value.startsWith('*.')) return c.value;
  }
  return null;
}

const addressOf = (ip: string): string => normaliseCidr(ip).value ?? ip;

/**
 * Collects, per device, what it contacted. Feed it every flow detection
 * judges (`add`), then take the drafts.
 */
export class ProfileLearner {
  private readonly devices = new Map<string, DeviceLearning>();
  /** Internet flows of hosts without a MAC address (raw IP captures): profiles cannot match them */
  flowsWithoutMac = 0;

  constructor(private readonly opts: LearnOptions = {}) {}

  /** One flow a local device opened to the Internet (as detection judges it: see judges() in detect/engine.ts). */
  add(f: FlowRecord, device: DeviceFacts): void {
    if (device.mac === null) {
      this.flowsWithoutMac++;
      return;
    }
    let d = this.devices.get(device.mac);
    if (!d) this.devices.set(device.mac, (d = new DeviceLearning({ ...device, mac: device.mac })));
    d.flows++;
    const name = documentableName(f);
    const address = addressOf(f.dst_ip);
    if (name !== null) {
      let names = d.namesOf.get(address);
      if (!names) d.namesOf.set(address, (names = new Set()));
      names.add(name);
    }
    const [kind, value]: [Kind, string] =
      name !== null ? ['domain', name] : this.opts.byAsn && f.dst_asn !== null ? ['asn', String(f.dst_asn)] : ['cidr', address];
    const key = `${kind}|${value}|${f.proto}`;
    const tk = JSON.stringify([f.sni, f.http_host, f.dns_name, f.proto, f.dst_ip, f.dst_port, f.dst_asn]);
    if (!d.targets.has(tk)) {
      d.targets.set(tk, { flow: { sni: f.sni, http_host: f.http_host, dns_name: f.dns_name, proto: f.proto, dst_ip: f.dst_ip, dst_port: f.dst_port, dst_asn: f.dst_asn }, group: key });
    }
    let g = d.groups.get(key);
    if (!g) {
      g = { kind, target: value, proto: f.proto, ports: new Set(), flows: 0, midStream: 0, addresses: new Set(), operators: new Map(), countries: new Set(), unusable: new Set() };
      d.groups.set(key, g);
    }
    g.flows++;
    if (f.mid_stream) g.midStream++;
    g.ports.add(f.dst_port);
    g.addresses.add(address);
    if (f.dst_asn !== null) g.operators.set(`AS${f.dst_asn}`, f.dst_as_org ?? g.operators.get(`AS${f.dst_asn}`) ?? null);
    else if (f.dst_as_org !== null) g.operators.set(f.dst_as_org, f.dst_as_org);
    if (f.dst_country) g.countries.add(f.dst_country);
    if (name === null) for (const n of [f.sni, f.http_host, f.dns_name]) if (n) g.unusable.add(n);
  }

  /** One draft per device that reached the Internet, in MAC order; `header` gives each file's comment. */
  drafts(header: (d: DeviceFacts & { mac: string }, flows: number) => string): Draft[] {
    return [...this.devices.values()]
      .sort((a, b) => (a.device.mac < b.device.mac ? -1 : 1))
      .map((d) => this.draft(d, header(d.device, d.flows)));
  }

  private draft(d: DeviceLearning, header: string): Draft {
    const { mac, vendor } = d.device;
    const kindOrder: Kind[] = ['domain', 'asn', 'cidr'];
    const groups = [...d.groups.entries()].sort(([, a], [, b]) =>
      kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) || a.target.localeCompare(b.target, 'en', { numeric: true }) || a.proto.localeCompare(b.proto),
    );
    const profile: DeviceProfile = {
      profile: `${(vendor ?? 'device').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-/, '').slice(0, 24).replace(/-+$/, '') || 'device'}-${mac.replace(/:/g, '')}`,
      description: `Drafted from observed traffic of ${vendor ?? 'an unknown vendor'} device ${mac}`,
      match: { mac: [mac] },
      documented: groups.map(([, g]) => entryOf(g, d.namesOf)),
    };
    const checked = this.converge(d, profile, new Map(groups.map(([key], i) => [key, i])), header);
    const count = (k: keyof DocumentedDestination) => checked.profile.documented.filter((e) => e[k] !== undefined).length;
    return { device: d.device, ...checked, flows: d.flows, byName: count('domain'), byAsn: count('asn'), byAddress: count('cidr') };
  }

  /**
   * Reads the draft back as `analyze --profiles` will and checks that the
   * entry of each distinct flow of the device documents it (one entry per
   * flow: linear in the flows, however many entries a device needs). A flow
   * whose entry does not (a name that reads back differently than it
   * matches) gets an entry by address; a flow still undocumented then is a bug.
   */
  private converge(d: DeviceLearning, profile: DeviceProfile, entryOfGroup: Map<string, number>, header: string): { profile: DeviceProfile; yaml: string } {
    const entryOfTarget = new Map<string, number>();
    for (let round = 0; ; round++) {
      const yaml = profileToYaml(profile, header);
      const read = parseProfileYaml(yaml, `${profile.profile}.yaml`);
      const matcher = new ProfileMatcher([read]);
      const missed: FlowTarget[] = [];
      for (const [tk, t] of d.targets) {
        if (!matcher.entryDocuments(read, entryOfTarget.get(tk) ?? entryOfGroup.get(t.group)!, t.flow)) missed.push(t.flow);
      }
      if (missed.length === 0) return { profile, yaml };
      if (round > 0) throw new Error(`profiles suggest: the draft for ${d.device.mac} leaves ${missed.length} flow(s) undocumented, such as ${JSON.stringify(missed[0])}`);
      const extra = new Map<string, DocumentedDestination>();
      for (const t of missed) {
        const key = `${addressOf(t.dst_ip)}|${t.proto}`;
        let e = extra.get(key);
        if (!e) {
          e = { cidr: addressOf(t.dst_ip), proto: t.proto, ports: [], note: 'documented by address: the name these flows carried does not read back as a domain' };
          extra.set(key, e);
        }
        e.ports!.push(t.dst_port);
        const tk = JSON.stringify([t.sni, t.http_host, t.dns_name, t.proto, t.dst_ip, t.dst_port, t.dst_asn]);
        entryOfTarget.set(tk, profile.documented.length + [...extra.keys()].indexOf(key));
      }
      for (const e of extra.values()) {
        if (!hasPorts(e.proto!) || e.ports!.some((p) => p < 1 || p > 65535)) delete e.ports;
        else e.ports = sortPorts(e.ports!);
      }
      profile = { ...profile, documented: [...profile.documented, ...extra.values()] };
    }
  }
}

/** "Amazon.com, Inc. (AS16509)", "AS16509", or the name alone when the AS is unknown. */
const operators = (g: Group): string[] => [...g.operators].map(([key, org]) => (org === null ? key : key.startsWith('AS') && org !== key ? `${org} (${key})` : org));

/** "a, b, c" or "a, b, c and 4 more" */
function listed(values: Iterable<string>, limit = LISTED): string {
  const all = [...values].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return all.length <= limit ? all.join(', ') : `${all.slice(0, limit).join(', ')} and ${all.length - limit} more`;
}

/** The documented entry for what was seen of a target, with a note saying what that was. */
function entryOf(g: Group, namesOf: Map<string, Set<string>>): DocumentedDestination {
  const ports = sortPorts(g.ports);
  const e: DocumentedDestination =
    g.kind === 'domain' ? { domain: g.target } : g.kind === 'asn' ? { asn: [Number(g.target)] } : { cidr: g.target };
  e.proto = g.proto;
  // Ports only where the protocol has them and every one can be written (port 0 cannot): else any port.
  const withPorts = hasPorts(g.proto) && ports.every((p) => p >= 1 && p <= 65535);
  if (withPorts) e.ports = ports;
  const parts = [`seen: ${g.flows} flow${g.flows === 1 ? '' : 's'} on ${g.proto}${withPorts ? `/${portsText(ports)}` : ports.length && hasPorts(g.proto) ? ` (ports ${portsText(ports)})` : ''}`];
  if (g.kind !== 'domain') {
    parts.push(g.unusable.size === 0 ? 'no name (no DNS answer, TLS SNI or HTTP Host)' : `no name that is a domain (carried ${listed([...g.unusable].map((n) => JSON.stringify(n)))})`);
  }
  if (g.kind !== 'cidr') parts.push(`${g.addresses.size === 1 ? 'address' : `${g.addresses.size} addresses`} ${listed(g.addresses)}`);
  if (g.midStream > 0) parts.push(`${g.midStream} began mid-stream (no SYN seen: the session started before the capture or outlived the idle timeout)`);
  if (g.kind !== 'domain') {
    const names = new Set([...g.addresses].flatMap((a) => [...(namesOf.get(a) ?? [])]));
    if (names.size > 0) parts.push(`other flows reached ${g.addresses.size === 1 ? 'it' : 'them'} as ${listed(names)}`);
  }
  parts.push(g.operators.size > 0 ? `operator ${listed(operators(g))}` : 'operator unknown');
  parts.push(g.countries.size > 0 ? `country ${listed(g.countries)}` : 'country unknown');
  e.note = parts.join('; ');
  return e;
}
