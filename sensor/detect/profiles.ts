// Device profiles: what a device model is documented to contact. Loaded from
// rules/devices/*.yaml (our format) and *.json (RFC 8520 MUD files).
//
// Validation is strict on purpose: a profile that silently loses a rule (a
// typo'd key, a port that is out of range) hides or invents alerts, and the
// user has no way to notice. Every error names the file and the line.
import { readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type YAMLSeq } from 'yaml';
import type { DeviceProfile, DocumentedDestination } from '../../contract/types.js';
import { ip6String } from '../util/addr.js';
import { mudToProfile } from './mud.js';
import { ProfileError } from './profile-error.js';

export const PROFILE_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/i;

/** A port range wider than this is almost certainly "any port" in disguise; we refuse to expand it. */
export const MAX_PORT_RANGE = 1024;

/** RFC 8520 "local-networks": the private and link-local ranges a device may reach on its own network. */
export const LOCAL_NETWORKS: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', 'fe80::/10'];

/** Either a normalised value or a one-line description of why the input is not acceptable. */
export type Checked<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

const ok = <T>(value: T): Checked<T> => ({ value });
const bad = <T>(problem: string): Checked<T> => ({ problem });

// ---------------------------------------------------------------------------
// Value normalisers, shared with the MUD converter.

const LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-cases, strips a trailing dot, and checks host-name syntax; "*.example.com" is the only wildcard form. */
export function normaliseDomain(raw: string): Checked<string> {
  let s = raw.toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s === '') return bad('is empty');
  let wildcard = false;
  if (s.startsWith('*.')) {
    wildcard = true;
    s = s.slice(2);
  }
  if (s.includes('*')) return bad('has a "*" that is not a whole first label (the wildcard form is "*.example.com")');
  if (isIP(s) !== 0) return bad('is an IP address; use cidr for addresses');
  if (s.length > 253) return bad(`is ${s.length} characters long (a host name has at most 253)`);
  for (const label of s.split('.')) {
    if (label === '') return bad('has an empty label (two dots in a row, or a leading dot)');
    if (!LABEL_RE.test(label)) {
      return bad(`has an invalid label ${JSON.stringify(label)} (letters, digits, "-" and "_", at most 63 characters, no "-" at either end)`);
    }
  }
  return ok(wildcard ? `*.${s}` : s);
}

function ip4Bytes(s: string): number[] | null {
  // Leading zeros are refused: some tools read them as octal.
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? b : null;
}

function ip6Bytes(s: string): number[] | null {
  if (s.includes('%') || isIP(s) !== 6) return null;
  const groups = (part: string): number[] => {
    const out: number[] = [];
    if (part === '') return out;
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const v4 = ip4Bytes(g);
        if (!v4) throw new Error('unreachable: isIP accepted the embedded IPv4 address');
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const gap = s.indexOf('::');
  let words: number[];
  if (gap < 0) {
    words = groups(s);
  } else {
    const head = groups(s.slice(0, gap));
    const tail = groups(s.slice(gap + 2));
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  if (words.length !== 8) return null;
  return words.flatMap((w) => [w >> 8, w & 255]);
}

/**
 * Checks "address" or "address/prefix" for IPv4 and IPv6 and returns the
 * canonical text (RFC 5952 for IPv6). A prefix with host bits set is refused:
 * "10.0.0.1/8" is more likely a mistake than a way to write 10.0.0.0/8.
 */
export function normaliseCidr(raw: string): Checked<string> {
  const slash = raw.indexOf('/');
  const addr = slash < 0 ? raw : raw.slice(0, slash);
  const v4 = ip4Bytes(addr);
  const bytes = v4 ?? ip6Bytes(addr.toLowerCase());
  if (!bytes) return bad('is not an IPv4 or IPv6 address or network (expected e.g. 192.0.2.0/24 or 2001:db8::/32)');
  const bits = v4 ? 32 : 128;
  const text = v4 ? v4.join('.') : ip6String(Buffer.from(bytes), 0);
  if (slash < 0) return ok(text);
  const p = raw.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return bad(`has an invalid prefix length "/${p}" (expected 0-${bits} for IPv${v4 ? 4 : 6})`);
  const prefix = Number(p);
  const net = bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  if (net.some((b, i) => b !== bytes[i])) {
    const netText = v4 ? net.join('.') : ip6String(Buffer.from(net), 0);
    return bad(`has host bits set (the network is ${netText}/${prefix})`);
  }
  return ok(`${text}/${prefix}`);
}

/** The name for an IP protocol number as FlowRecord.proto spells it. */
export function protoName(n: number): string {
  switch (n) {
    case 1:
      return 'icmp';
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 58:
      return 'icmp6';
    default:
      return String(n);
  }
}

const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmp6: 58 };

export function normaliseProto(raw: string | number): Checked<string> {
  if (typeof raw === 'number') {
    return Number.isInteger(raw) && raw >= 0 && raw <= 255 ? ok(protoName(raw)) : bad('is not an IP protocol number 0-255');
  }
  const s = raw.toLowerCase();
  if (s in PROTO_NUMBERS) return ok(s);
  if (/^\d{1,3}$/.test(s) && Number(s) <= 255) return ok(protoName(Number(s)));
  return bad('is not tcp, udp, icmp, icmp6 or an IP protocol number 0-255');
}

/** Protocols with port numbers; ports on anything else can never match. */
const PORTED = new Set(['tcp', 'udp', '33', '132', '136']); // + DCCP, SCTP, UDP-Lite

export function expandPortRange(lo: number, hi: number): Checked<number[]> {
  if (lo > hi) return bad(`is a range whose start is after its end (${lo}-${hi})`);
  const n = hi - lo + 1;
  if (n > MAX_PORT_RANGE) return bad(`spans ${n} ports, more than the ${MAX_PORT_RANGE} a range may cover`);
  return ok(Array.from({ length: n }, (_, i) => lo + i));
}

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

function portItem(v: unknown): Checked<number[]> {
  if (typeof v === 'number') return isPort(v) ? ok([v]) : bad('is not a port number 1-65535');
  if (typeof v === 'string') {
    if (/^\d{1,5}$/.test(v)) return isPort(Number(v)) ? ok([Number(v)]) : bad('is not a port number 1-65535');
    const m = /^(\d{1,5})\s*-\s*(\d{1,5})$/.exec(v);
    if (!m) return bad('is not a port number 1-65535 or a range "low-high"');
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    if (!isPort(lo) || !isPort(hi)) return bad('is a range whose ends are not both port numbers 1-65535');
    const r = expandPortRange(lo, hi);
    return r.problem !== undefined && hi - lo >= MAX_PORT_RANGE ? bad(`${r.problem} (omit ports to allow any port)`) : r;
  }
  return bad('is not a port number 1-65535 or a range "low-high"');
}

/** Sorted, without duplicates: the order ports were written in carries no meaning. */
export function sortPorts(ports: Iterable<number>): number[] {
  return [...new Set(ports)].sort((a, b) => a - b);
}

const MAC_RE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}$/i;
// 24-bit MA-L "aa:bb:cc", 28-bit MA-M "aa:bb:cc:d", 36-bit MA-S "aa:bb:cc:dd:e"
const OUI_RE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}\1[0-9a-f]{2}(?:\1[0-9a-f](?:[0-9a-f]\1[0-9a-f])?)?$/i;

const colonForm = (s: string) => s.toLowerCase().replace(/-/g, ':');

/** Lower-case colon form; the same key the rest of the sensor uses for MACs. */
export function normaliseMac(raw: string): Checked<string> {
  return MAC_RE.test(raw) ? ok(colonForm(raw)) : bad('is not a MAC address (expected aa:bb:cc:dd:ee:ff)');
}

/**
 * Lower-case colon form. Every form is a string prefix of the MACs it
 * covers, so a matcher only needs mac.startsWith(oui).
 */
export function normaliseOui(raw: string): Checked<string> {
  if (OUI_RE.test(raw)) return ok(colonForm(raw));
  if (MAC_RE.test(raw)) return bad('is a full MAC address; list it under match.mac');
  return bad('is not an OUI prefix (expected aa:bb:cc, or aa:bb:cc:d / aa:bb:cc:dd:e for 28/36-bit blocks)');
}

export function checkMudUrl(raw: string): Checked<string> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return bad('is not a URL');
  }
  // RFC 8520 section 1.5: MUD URLs MUST use https.
  if (u.protocol !== 'https:') return bad(`is not an https URL (scheme "${u.protocol.slice(0, -1)}")`);
  return ok(raw);
}

const destKey = (d: DocumentedDestination) => JSON.stringify([d.domain ?? null, d.cidr ?? null, d.proto ?? null, d.ports ?? null]);

/** Drops repeated destinations (same target, proto and ports); the first note wins. */
export function dedupeDestinations(list: DocumentedDestination[]): DocumentedDestination[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = destKey(d);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------------------
// YAML validation. We walk the parsed node tree (not toJS()) so that every
// node still carries its source position.

interface Ctx {
  file: string;
  doc: Document.Parsed;
  lc: LineCounter;
}

type Node = YamlNode | null;

function lineOf(ctx: Ctx, node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? ctx.lc.linePos(range[0]).line : 1;
}

function fail(ctx: Ctx, node: unknown, detail: string): never {
  throw new ProfileError('PROFILE_INVALID', ctx.file, lineOf(ctx, node), detail);
}

function deref(ctx: Ctx, node: unknown): Node {
  if (isAlias(node)) {
    const target = node.resolve(ctx.doc);
    if (!target) {
      // The usual cause is an unquoted wildcard domain, which YAML reads as an alias.
      const hint = node.source.startsWith('.') ? `; quote wildcard domains ('*${node.source}')` : '';
      fail(ctx, node, `alias *${node.source} refers to no anchor${hint}`);
    }
    return target as YamlNode;
  }
  return (node ?? null) as Node;
}

function describe(node: Node): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'an empty value';
    if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
    if (typeof v === 'number' || typeof v === 'bigint') return `number ${String(v)}`;
    if (typeof v === 'boolean') return `boolean ${v}`;
    return `a ${typeof v} value`;
  }
  return 'an unexpected node';
}

const quote = (s: string) => JSON.stringify(s);

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

interface Entry {
  key: string;
  keyNode: YamlNode;
  value: Node;
}

/** The pairs of a mapping, keys checked against `allowed`. */
function mapping(ctx: Ctx, node: Node, where: string, allowed: readonly string[], owner: Node = node): Map<string, Entry> {
  if (!isMap(node)) fail(ctx, node ?? owner, `${where}: expected a mapping, found ${describe(node)}`);
  const out = new Map<string, Entry>();
  for (const pair of node.items) {
    const keyNode = deref(ctx, pair.key);
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      fail(ctx, keyNode ?? node, `${where}: keys must be plain names, found ${describe(keyNode)}`);
    }
    const key = keyNode.value;
    if (!allowed.includes(key)) {
      const near = allowed.find((a) => editDistance(a, key.toLowerCase()) <= 2);
      fail(
        ctx,
        keyNode,
        `${where}: unknown key ${quote(key)} (expected one of: ${allowed.join(', ')})${near ? `; did you mean ${quote(near)}?` : ''}`,
      );
    }
    out.set(key, { key, keyNode, value: deref(ctx, pair.value) });
  }
  return out;
}

const at = (e: Entry) => e.value ?? e.keyNode;

function str(ctx: Ctx, e: Entry, path: string): string {
  const v = e.value;
  if (!isScalar(v) || typeof v.value !== 'string') fail(ctx, at(e), `${path}: expected a string, found ${describe(v)}`);
  return v.value;
}

function nonEmptyStr(ctx: Ctx, e: Entry, path: string): string {
  const s = str(ctx, e, path);
  if (s.trim() === '') fail(ctx, at(e), `${path}: must not be empty`);
  return s;
}

/** A list of strings, or one string standing for a one-element list. */
function strList(ctx: Ctx, e: Entry, path: string, check: (s: string) => Checked<string>, what: string): string[] {
  const v = e.value;
  const items: Array<{ node: Node; path: string }> = isSeq(v)
    ? v.items.map((n, i) => ({ node: deref(ctx, n), path: `${path}[${i}]` }))
    : [{ node: v, path }];
  if (isSeq(v) && items.length === 0) fail(ctx, at(e), `${path}: empty list; remove the key or list at least one ${what}`);
  const out: string[] = [];
  for (const it of items) {
    if (!isScalar(it.node) || typeof it.node.value !== 'string') {
      fail(ctx, it.node ?? at(e), `${it.path}: expected a ${what} string${isSeq(v) ? '' : ' or a list of them'}, found ${describe(it.node)}`);
    }
    const c = check(it.node.value);
    if (c.problem !== undefined) fail(ctx, it.node, `${it.path}: ${quote(it.node.value)} ${c.problem}`);
    if (!out.includes(c.value)) out.push(c.value);
  }
  return out;
}

function ports(ctx: Ctx, e: Entry, path: string): number[] {
  const v = e.value;
  const items: Array<{ node: Node; path: string }> = isSeq(v)
    ? v.items.map((n, i) => ({ node: deref(ctx, n), path: `${path}[${i}]` }))
    : [{ node: v, path }];
  if (isSeq(v) && items.length === 0) fail(ctx, at(e), `${path}: empty list; omit ports to allow any port`);
  const out: number[] = [];
  for (const it of items) {
    if (!isScalar(it.node) || (typeof it.node.value !== 'number' && typeof it.node.value !== 'string')) {
      fail(ctx, it.node ?? at(e), `${it.path}: expected a port number 1-65535 or a range "low-high", found ${describe(it.node)}`);
    }
    const c = portItem(it.node.value);
    if (c.problem !== undefined) fail(ctx, it.node, `${it.path}: ${describe(it.node)} ${c.problem}`);
    out.push(...c.value);
  }
  return sortPorts(out);
}

const TOP_KEYS = ['profile', 'description', 'match', 'mud-url', 'documented'] as const;
const MATCH_KEYS = ['mac', 'oui', 'vendor'] as const;
const DEST_KEYS = ['domain', 'cidr', 'proto', 'ports', 'note'] as const;

function destination(ctx: Ctx, node: Node, path: string): DocumentedDestination {
  const m = mapping(ctx, node, path, DEST_KEYS);
  const domain = m.get('domain');
  const cidr = m.get('cidr');
  if (domain && cidr) fail(ctx, node, `${path}: has both domain and cidr; each entry documents exactly one (split it in two)`);
  if (!domain && !cidr) fail(ctx, node, `${path}: needs a domain or a cidr`);
  const d: DocumentedDestination = {};
  if (domain) {
    const s = str(ctx, domain, `${path}.domain`);
    const c = normaliseDomain(s);
    if (c.problem !== undefined) fail(ctx, at(domain), `${path}.domain: ${quote(s)} ${c.problem}`);
    d.domain = c.value;
  }
  if (cidr) {
    const s = str(ctx, cidr, `${path}.cidr`);
    const c = normaliseCidr(s);
    if (c.problem !== undefined) fail(ctx, at(cidr), `${path}.cidr: ${quote(s)} ${c.problem}`);
    d.cidr = c.value;
  }
  const proto = m.get('proto');
  if (proto) {
    const v = proto.value;
    if (!isScalar(v) || (typeof v.value !== 'string' && typeof v.value !== 'number')) {
      fail(ctx, at(proto), `${path}.proto: expected tcp, udp, icmp, icmp6 or an IP protocol number 0-255, found ${describe(v)}`);
    }
    const c = normaliseProto(v.value);
    if (c.problem !== undefined) fail(ctx, v, `${path}.proto: ${describe(v)} ${c.problem}`);
    d.proto = c.value;
  }
  const p = m.get('ports');
  if (p) {
    if (d.proto !== undefined && !PORTED.has(d.proto)) {
      fail(ctx, p.keyNode, `${path}.ports: proto ${d.proto} has no ports; remove ports or change proto`);
    }
    d.ports = ports(ctx, p, `${path}.ports`);
  }
  const note = m.get('note');
  if (note) d.note = str(ctx, note, `${path}.note`);
  return d;
}

function validate(ctx: Ctx): { profile: DeviceProfile; nameLine: number } {
  const root = deref(ctx, ctx.doc.contents);
  if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) {
    fail(ctx, null, 'empty document; expected a mapping with profile, match and documented');
  }
  const top = mapping(ctx, root, 'top level', TOP_KEYS);
  const need = (k: string, what: string): Entry => {
    const e = top.get(k);
    if (!e) fail(ctx, root, `missing required key ${quote(k)} (${what})`);
    return e;
  };

  const nameEntry = need('profile', 'the profile name');
  const name = nonEmptyStr(ctx, nameEntry, 'profile');
  if (!PROFILE_NAME_RE.test(name)) {
    fail(
      ctx,
      at(nameEntry),
      `profile: ${quote(name)} is not a valid name (letters, digits, ".", "_" and "-", starting with a letter or digit)`,
    );
  }
  const profile: DeviceProfile = { profile: name, match: {}, documented: [] };

  const desc = top.get('description');
  if (desc) profile.description = str(ctx, desc, 'description');

  const url = top.get('mud-url');
  let mudUrl: string | undefined;
  if (url) {
    const s = str(ctx, url, 'mud-url');
    const c = checkMudUrl(s);
    if (c.problem !== undefined) fail(ctx, at(url), `mud-url: ${quote(s)} ${c.problem}`);
    mudUrl = c.value;
  }

  // A MUD URL identifies the device by itself, so match may then be left out.
  const matchEntry = mudUrl === undefined ? need('match', 'a mapping with mac, oui and/or vendor') : top.get('match');
  if (matchEntry) {
    const m = mapping(ctx, matchEntry.value, 'match', MATCH_KEYS, matchEntry.keyNode);
    const mac = m.get('mac');
    if (mac) profile.match.mac = strList(ctx, mac, 'match.mac', normaliseMac, 'MAC address');
    const oui = m.get('oui');
    if (oui) profile.match.oui = strList(ctx, oui, 'match.oui', normaliseOui, 'OUI');
    const vendor = m.get('vendor');
    if (vendor) profile.match.vendor = nonEmptyStr(ctx, vendor, 'match.vendor');
    if (m.size === 0 && mudUrl === undefined) {
      fail(ctx, at(matchEntry), 'match: needs at least one of mac, oui, vendor (or a top-level mud-url)');
    }
  }
  if (mudUrl !== undefined) profile['mud-url'] = mudUrl;

  const docEntry = need('documented', 'a list of destinations; may be empty');
  const list = docEntry.value;
  if (!isSeq(list)) fail(ctx, at(docEntry), `documented: expected a list, found ${describe(list)}`);
  profile.documented = list.items.map((n, i) => destination(ctx, deref(ctx, n), `documented[${i}]`));
  return { profile, nameLine: lineOf(ctx, at(nameEntry)) };
}

function parseInternal(text: string, file: string): { profile: DeviceProfile; nameLine: number } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const detail = err.message.replace(/\s*\n\s*/g, ' ').trim();
    throw new ProfileError('PROFILE_INVALID', file, lc.linePos(err.pos[0]).line, `YAML syntax error: ${detail}`);
  }
  const { profile, nameLine } = validate({ file, doc, lc });
  profile.source = file;
  return { profile, nameLine };
}

/** Parses and validates one YAML profile; throws ProfileError (PROFILE_INVALID) naming file and line. */
export function parseProfileYaml(text: string, file: string): DeviceProfile {
  return parseInternal(text, file).profile;
}

// ---------------------------------------------------------------------------

/**
 * Loads every *.yaml / *.yml profile and *.json MUD file directly in `dir`,
 * in name order. The first problem is thrown; a half-loaded profile set would
 * make alerts depend on which file happened to be broken.
 */
export function loadProfiles(dir: string): { profiles: DeviceProfile[]; warnings: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && !d.name.startsWith('.') && /\.(ya?ml|json)$/i.test(d.name))
      .map((d) => d.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (e) {
    throw new ProfileError('PROFILE_IO', dir, null, `cannot read the profile directory: ${(e as Error).message}`);
  }
  const profiles: DeviceProfile[] = [];
  const warnings: string[] = [];
  const byName = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ProfileError('PROFILE_IO', file, null, `cannot read: ${(e as Error).message}`);
    }
    let profile: DeviceProfile;
    let line: number | null = null;
    if (/\.json$/i.test(name)) {
      const r = mudToProfile(text, file);
      profile = { ...r.profile, source: file };
      for (const u of r.unmapped) warnings.push(`${file}: ${u}`);
    } else {
      const r = parseInternal(text, file);
      profile = r.profile;
      line = r.nameLine;
    }
    const earlier = byName.get(profile.profile);
    if (earlier !== undefined) {
      throw new ProfileError('PROFILE_INVALID', file, line, `profile ${quote(profile.profile)} is already defined in ${earlier}`);
    }
    byName.set(profile.profile, file);
    profiles.push(profile);
  }
  return { profiles, warnings };
}

// ---------------------------------------------------------------------------

/** Consecutive runs of three or more ports are written as "low-high" to keep expanded ranges readable. */
function compressPorts(list: number[]): Array<number | string> {
  const out: Array<number | string> = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1) j++;
    if (j - i >= 2) out.push(`${list[i]}-${list[j]}`);
    else for (let k = i; k <= j; k++) out.push(list[k]);
    i = j + 1;
  }
  return out;
}

/** YAML text for a profile (without `source`) that parseProfileYaml reads back to an equal profile. */
export function profileToYaml(p: DeviceProfile, header?: string): string {
  const match: Record<string, unknown> = {};
  if (p.match.mac !== undefined) match.mac = p.match.mac;
  if (p.match.oui !== undefined) match.oui = p.match.oui;
  if (p.match.vendor !== undefined) match.vendor = p.match.vendor;
  const out: Record<string, unknown> = { profile: p.profile };
  if (p.description !== undefined) out.description = p.description;
  out.match = match;
  if (p['mud-url'] !== undefined) out['mud-url'] = p['mud-url'];
  out.documented = p.documented.map((d) => {
    const e: Record<string, unknown> = {};
    if (d.domain !== undefined) e.domain = d.domain;
    if (d.cidr !== undefined) e.cidr = d.cidr;
    if (d.proto !== undefined) e.proto = d.proto;
    if (d.ports !== undefined) e.ports = compressPorts(sortPorts(d.ports));
    if (d.note !== undefined) e.note = d.note;
    return e;
  });
  const doc = new Document(out);
  const flow = (path: Array<string | number>) => {
    const n = doc.getIn(path, true);
    if (isSeq(n)) (n as YAMLSeq).flow = true;
  };
  flow(['match', 'mac']);
  flow(['match', 'oui']);
  p.documented.forEach((_, i) => flow(['documented', i, 'ports']));
  const body = doc.toString({ lineWidth: 0 });
  if (header === undefined) return body;
  const lines = header.replace(/\n+$/, '').split('\n').map((l) => (l === '' ? '#' : `# ${l}`));
  return `${lines.join('\n')}\n${body}`;
}
