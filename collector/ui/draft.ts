// A draft device profile entry built from what a device did: every
// destination it reached, by name where it had one (a registered domain
// with several names as `*.domain`), else by address, with its protocols and
// ports. YAML in the format of rules/devices/*.yaml, for a person to check
// and copy; nothing here is loaded by anything.
import { getDomain } from 'tldts';
import { stringify } from 'yaml';
import type { DeviceDestination, DocumentedDestination } from '../../contract/types.js';
import type { StoredDevice } from '../store/store.js';

interface Group {
  entry: DocumentedDestination;
  ports: Set<number>;
  protos: Set<string>;
  flows: number;
  names: Set<string>;
}

/** The profile name a draft proposes: the brand and model, else the vendor, else the MAC. */
function profileName(d: StoredDevice): string {
  const base = [d.brand, d.model].filter(Boolean).join('-') || d.vendor || d.mac || d.ips[0] || 'device';
  return base.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'device';
}

function keyOf(dst: DeviceDestination, multi: Set<string>): DocumentedDestination {
  if (!dst.name) return { cidr: dst.ip };
  const domain = getDomain(dst.name);
  return domain && multi.has(domain) ? { domain: `*.${domain}` } : { domain: dst.name };
}

function group(dests: DeviceDestination[]): Group[] {
  const perDomain = new Map<string, Set<string>>();
  for (const d of dests) {
    const dom = d.name ? getDomain(d.name) : null;
    if (dom) perDomain.set(dom, (perDomain.get(dom) ?? new Set()).add(d.name!));
  }
  const multi = new Set([...perDomain].filter(([, names]) => names.size > 1).map(([dom]) => dom));
  const groups = new Map<string, Group>();
  for (const d of dests) {
    const entry = keyOf(d, multi);
    const k = JSON.stringify(entry);
    const g = groups.get(k) ?? { entry, ports: new Set<number>(), protos: new Set<string>(), flows: 0, names: new Set<string>() };
    d.ports.forEach((p) => g.ports.add(p));
    d.protos.forEach((p) => g.protos.add(p));
    g.flows += d.flows;
    if (d.name) g.names.add(d.name);
    groups.set(k, g);
  }
  return [...groups.values()].sort((a, b) => b.flows - a.flows);
}

/** The YAML of a profile documenting everything the device did, one entry per destination (or domain). */
export function draftProfile(d: StoredDevice): string {
  const documented = group(d.destinations).map((g) => {
    const e: DocumentedDestination = { ...g.entry };
    if (g.protos.size === 1) e.proto = [...g.protos][0];
    if (g.ports.size && g.ports.size <= 10) e.ports = [...g.ports].sort((x, y) => x - y);
    e.note = `seen: ${g.flows} flows${g.names.size > 1 ? ` (${[...g.names].slice(0, 5).join(', ')})` : ''}; check it is documented by the vendor`;
    return e;
  });
  const profile = {
    profile: profileName(d),
    description: `Drafted from the traffic of ${d.mac ?? d.ips[0]} seen by sensor ${d.sensor}`,
    match: d.mac ? { mac: [d.mac] } : {},
    documented,
  };
  return stringify(profile, { lineWidth: 0 });
}
