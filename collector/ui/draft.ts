// A draft device profile entry built from what a device did: every
// destination it reached, by name where it had one (a registered domain
// with several names as `*.domain`), else by address, with its protocols and
// ports. YAML in the format of rules/devices/*.yaml, for a person to check
// and copy; nothing here is loaded by anything. Names came off the wire: one
// that is not a host name (markup, bytes that are not text, a wildcard) is
// never written as a domain; its destination is documented by address.
import { isIP } from 'node:net';
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

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** The name in lower case if it is a host name a profile's `domain` can hold (the rules of the profile loader), else null. */
export function hostName(name: string | null | undefined): string | null {
  const s = name?.toLowerCase().replace(/\.$/, '');
  if (!s || s.length > 253 || isIP(s) !== 0 || !s.includes('.')) return null;
  return s.split('.').every((l) => LABEL.test(l)) ? s : null;
}

function keyOf(dst: DeviceDestination, multi: Set<string>): DocumentedDestination {
  const name = hostName(dst.name);
  if (!name) return { cidr: dst.ip };
  const domain = getDomain(name);
  return domain && multi.has(domain) ? { domain: `*.${domain}` } : { domain: name };
}

function group(dests: DeviceDestination[]): Group[] {
  const perDomain = new Map<string, Set<string>>();
  for (const d of dests) {
    const name = hostName(d.name);
    const dom = name ? getDomain(name) : null;
    if (name && dom) perDomain.set(dom, (perDomain.get(dom) ?? new Set()).add(name));
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
    const name = hostName(d.name);
    if (name) g.names.add(name);
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
    e.note = `seen: ${g.flows} flow${g.flows === 1 ? '' : 's'}${g.names.size > 1 ? ` (${[...g.names].slice(0, 5).join(', ')})` : ''}; check it is documented by the vendor`;
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
