import { BRAND_RULES, GENERAL_PURPOSE, MODULE_RULES, SELF_KINDS, ouiBrandName, type BrandRule, type EvidenceKind, type SelfKind } from './brands.js';

export type { EvidenceKind } from './brands.js';

/** Everything a device has shown about itself and its clouds; every list in a stable (sorted) order. */
export interface BrandEvidence {
  /** DHCP option 12 host names (and DHCPv6 client FQDNs) */
  dhcpHostnames?: readonly string[];
  /** DHCP option 60 (DHCPv6 vendor class) */
  dhcpVendorClass?: string | null;
  /** names it answered for in mDNS */
  mdnsNames?: readonly string[];
  /** its SSDP SERVER header */
  ssdpServer?: string | null;
  /** HTTP (and SSDP) User-Agents it sent */
  userAgents?: readonly string[];
  /** names of the servers it connected to (SNI, HTTP Host, the DNS name it resolved) */
  cloudNames?: readonly string[];
  /** the IEEE registry's organisation for its MAC */
  ouiVendor?: string | null;
}

/** Who made a device, and what told. */
export interface BrandResult {
  /** the maker whose product it is; null when only a module maker (or nothing) is known */
  brand: string | null;
  /** the model (or product line) when the evidence names it */
  model: string | null;
  /** the evidence that named the brand */
  brand_source: EvidenceKind | null;
  /** the maker of its radio module or network chip, when its OUI or default host name says so */
  module_vendor: string | null;
}

interface Compiled extends BrandRule {
  kinds: readonly EvidenceKind[];
}

const RULES: readonly Compiled[] = BRAND_RULES.map((r) => ({ ...r, kinds: typeof r.kind === 'string' ? [r.kind] : r.kind }));
const byKind = new Map<EvidenceKind, Compiled[]>();
for (const r of RULES) for (const k of r.kinds) byKind.set(k, [...(byKind.get(k) ?? []), r]);
const rulesOf = (k: EvidenceKind): readonly Compiled[] => byKind.get(k) ?? [];

/** A host name as rules read it: its first label ("DCS-935L.local" -> "DCS-935L"). */
function hostLabel(name: string): string {
  const i = name.indexOf('.');
  return (i > 0 ? name.slice(0, i) : name).trim();
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A server name as cloud rules read it: lower case, no port, no trailing dot; null for an address literal. */
export function cloudName(name: string): string | null {
  let n = name.trim().toLowerCase();
  if (n.startsWith('[')) return null;
  const colon = n.lastIndexOf(':');
  if (colon >= 0) {
    if (n.indexOf(':') !== colon) return null; // an IPv6 literal
    n = n.slice(0, colon);
  }
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n === '' || IPV4.test(n)) return null;
  return n;
}

function valuesOf(ev: BrandEvidence, kind: EvidenceKind): readonly string[] {
  switch (kind) {
    case 'dhcp-hostname':
      return (ev.dhcpHostnames ?? []).map(hostLabel).filter((s) => s !== '');
    case 'mdns':
      return (ev.mdnsNames ?? []).map(hostLabel).filter((s) => s !== '');
    case 'dhcp-vendor-class':
      return ev.dhcpVendorClass ? [ev.dhcpVendorClass] : [];
    case 'ssdp':
      return ev.ssdpServer ? [ev.ssdpServer] : [];
    case 'user-agent':
      return ev.userAgents ?? [];
    case 'cloud-name':
      return (ev.cloudNames ?? []).map(cloudName).filter((s): s is string => s !== null);
    case 'oui':
      return ev.ouiVendor ? [ev.ouiVendor] : [];
  }
}

const modelOf = (r: BrandRule, m: RegExpExecArray): string | null => (typeof r.model === 'number' ? (m[r.model] ?? null) : (r.model ?? null));

/** The maker of the radio module: its OUI first, then a module firmware's default host name. */
function moduleOf(ev: BrandEvidence): { module: string | null; fromOui: boolean } {
  for (const r of MODULE_RULES) {
    if (r.kind === 'oui' && ev.ouiVendor && r.match.test(ev.ouiVendor)) return { module: r.module, fromOui: true };
  }
  for (const r of MODULE_RULES) {
    if (r.kind === 'oui') continue;
    for (const k of r.kind) for (const v of valuesOf(ev, k)) if (r.match.test(v)) return { module: r.module, fromOui: false };
  }
  return { module: null, fromOui: false };
}

/** A phone, tablet or PC: it talks to every cloud its apps use, so neither clouds nor app User-Agents name its maker. */
export function isGeneralPurpose(ev: BrandEvidence): boolean {
  for (const g of GENERAL_PURPOSE) {
    const kinds: readonly SelfKind[] = typeof g.kind === 'string' ? [g.kind] : g.kind;
    for (const k of kinds) for (const v of valuesOf(ev, k)) if (g.match.test(v)) return true;
  }
  return false;
}

/** The most specific rule for one server name: the longest domain it lies under (ring.devices.a2z.com is Ring's, not Amazon's). */
function cloudRule(name: string): Compiled | null {
  let best: Compiled | null = null;
  let bestLen = 0;
  for (const r of rulesOf('cloud-name')) {
    let len = 0;
    if (r.domains) {
      for (const d of r.domains) if ((name === d || name.endsWith(`.${d}`)) && d.length > len) len = d.length;
    } else if (r.match?.test(name)) len = name.length;
    if (len > bestLen) {
      best = r;
      bestLen = len;
    }
  }
  return best;
}

/** The first rule of a kind, in evidence order, that names a brand (platforms aside). */
function firstMatch(ev: BrandEvidence, kind: EvidenceKind, brand?: string): { rule: Compiled; model: string | null } | null {
  const values = valuesOf(ev, kind);
  for (const v of values) {
    for (const r of rulesOf(kind)) {
      if (r.platform || !r.match || (brand !== undefined && r.brand !== brand)) continue;
      const m = r.match.exec(v);
      if (m) return { rule: r, model: modelOf(r, m) };
    }
  }
  return null;
}

/**
 * Who made a device, from the evidence it gave, strongest first:
 *
 * 1. what it says about itself: DHCP host name, mDNS name, DHCP vendor
 *    class, SSDP SERVER, User-Agent (not a phone's or PC's app User-Agents);
 * 2. its OUI when the registry names a known maker of products (TP-Link,
 *    Samsung, ...) and its clouds name another brand: a phone running the
 *    Hue app stays a Samsung;
 * 3. the clouds it contacts, when they name one brand only (a hub or phone
 *    contacting several brands' clouds is not named by them);
 * 4. its OUI, unless the registrant makes radio modules or chips
 *    (Espressif, Texas Instruments, ...): then that maker is `module_vendor`;
 * 5. a white-label platform's cloud (Tuya, ...): "<platform>-based".
 *
 * Nothing else: brand null, with module_vendor saying what is known.
 */
export function identifyBrand(ev: BrandEvidence): BrandResult {
  const { module, fromOui } = moduleOf(ev);
  const general = isGeneralPurpose(ev);
  const selfKinds = SELF_KINDS.filter((k) => !(general && k === 'user-agent'));
  let brand: string | null = null;
  let source: EvidenceKind | null = null;
  let model: string | null = null;

  for (const kind of selfKinds) {
    const hit = firstMatch(ev, kind);
    if (hit) {
      brand = hit.rule.brand;
      source = kind;
      model = hit.model;
      break;
    }
  }

  const ouiOrg = ev.ouiVendor && !fromOui ? ev.ouiVendor : null;
  const ouiKnown = ouiOrg ? (firstMatch(ev, 'oui')?.rule.brand ?? null) : null;
  if (brand === null) {
    const brands = new Set<string>();
    let platform: string | null = null;
    if (!general) {
      for (const n of valuesOf(ev, 'cloud-name')) {
        const r = cloudRule(n);
        if (!r) continue;
        if (r.platform) platform ??= r.brand;
        else brands.add(r.brand);
      }
    }
    const cloud = brands.size === 1 ? [...brands][0] : null;
    if (ouiKnown && (cloud === null || cloud !== ouiKnown)) {
      brand = ouiKnown;
      source = 'oui';
    } else if (cloud) {
      brand = cloud;
      source = 'cloud-name';
    } else if (ouiOrg) {
      brand = ouiBrandName(ouiOrg);
      source = 'oui';
    } else if (platform) {
      return { brand: `${platform}-based`, model: null, brand_source: 'cloud-name', module_vendor: module };
    }
  }

  // A model named by any of the brand's rules (the host name said "Philips-hue", the SSDP SERVER "IpBridge").
  if (brand !== null && model === null) {
    for (const kind of selfKinds) {
      const hit = firstMatch(ev, kind, brand);
      if (hit?.model) {
        model = hit.model;
        break;
      }
    }
  }
  return { brand, model, brand_source: source, module_vendor: module };
}

/** The brand rules' and module rules' makers: a module maker is never a brand. */
export const MODULE_MAKERS: ReadonlySet<string> = new Set(MODULE_RULES.map((r) => r.module));
