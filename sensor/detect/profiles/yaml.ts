// The YAML profile format (rules/devices/*.yaml): reading one file into a
// DeviceProfile, and writing a profile back as YAML.
//
// Validation is strict on purpose: a profile that silently loses a rule (a
// typo'd key, a port that is out of range) hides or invents alerts, and the
// user has no way to notice. Every error names the file and the line.
import { Document, LineCounter, Scalar, isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Alias, type Node as YamlNode, type YAMLSeq } from 'yaml';
import type { DeviceProfile, DocumentedDestination } from '../../../contract/types.js';
import { ProfileError } from '../../errors.js';
import { hasUnsafeText, jsonSafe, terminalSafe } from '../../../contract/escape.js';
import {
  MAX_PORT_RANGE,
  PROFILE_NAME_RE,
  bad,
  checkMudUrl,
  expandPortRange,
  hasPorts,
  normaliseAsn,
  normaliseCidr,
  normaliseDomain,
  normaliseMac,
  normaliseOui,
  normaliseProto,
  ok,
  sortPorts,
  type Checked,
} from './values.js';

// ---------------------------------------------------------------------------
// Reading walks the parsed node tree (not toJS()) so that every node still
// carries its source position.

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

interface Ctx {
  file: string;
  doc: Document.Parsed;
  lc: LineCounter;
  /** each alias's anchored node (resolveAliases) */
  aliases: Map<Alias, YamlNode>;
}

type Node = YamlNode | null;

function lineOf(ctx: Ctx, node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? ctx.lc.linePos(range[0]).line : 1;
}

function fail(ctx: Ctx, node: unknown, detail: string): never {
  throw new ProfileError('PROFILE_INVALID', ctx.file, lineOf(ctx, node), detail);
}

/**
 * Nodes all aliases of one profile may stand for together. Profiles need few
 * aliases (a shared port list, say); thousands are a broken or hostile file,
 * and each alias is read as often as it is used.
 */
export const MAX_ALIAS_EXPANSION = 10_000;

/**
 * Each alias's anchor, found in one walk over the document, as YAML resolves
 * it (the last node before the alias with that anchor): the yaml package's
 * Alias.resolve walks the whole document for every alias, quadratic in the
 * aliases. Refuses a file whose aliases stand for more than
 * MAX_ALIAS_EXPANSION nodes, counting the nodes inside aliased collections.
 */
function resolveAliases(file: string, doc: Document.Parsed, lc: LineCounter): Map<Alias, YamlNode> {
  const anchors = new Map<string, YamlNode>();
  const targets = new Map<Alias, YamlNode>();
  const sizes = new Map<unknown, number>();
  const line = (n: unknown) => ((n as YamlNode).range ? lc.linePos((n as YamlNode).range![0]).line : null);
  const size = (n: unknown): number => {
    if (n === null || n === undefined) return 0;
    const known = sizes.get(n);
    if (known !== undefined) return known;
    sizes.set(n, Infinity); // a node whose size is being counted contains the alias that asked
    const target = isAlias(n) ? targets.get(n) : undefined;
    const total = isAlias(n) ? (target ? size(target) : 1) : isPair(n) ? size(n.key) + size(n.value) : isCollection(n) ? n.items.reduce((t: number, i) => t + size(i), 1) : 1;
    sizes.set(n, total);
    return total;
  };
  let expanded = 0;
  visit(doc, {
    Node(_key, node) {
      if (!isAlias(node)) {
        const anchor = (node as { anchor?: string }).anchor;
        if (anchor) anchors.set(anchor, node);
        return;
      }
      const target = anchors.get(node.source);
      if (!target) return; // reported where the alias is read, with a hint
      targets.set(node, target);
      expanded += size(target);
      if (expanded === Infinity) throw new ProfileError('PROFILE_INVALID', file, line(node), `alias *${node.source} refers to a node that contains it`);
      if (expanded > MAX_ALIAS_EXPANSION) {
        throw new ProfileError('PROFILE_INVALID', file, line(node), `YAML aliases stand for more than ${MAX_ALIAS_EXPANSION} nodes; a profile needs few aliases (write the entries out)`);
      }
    },
  });
  return targets;
}

function deref(ctx: Ctx, node: unknown): Node {
  if (isAlias(node)) {
    const target = ctx.aliases.get(node);
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
    // Checked here, not by the parser: its check compares each key with every earlier one.
    if (out.has(key)) fail(ctx, keyNode, 'YAML syntax error: Map keys must be unique');
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
const DEST_KEYS = ['domain', 'cidr', 'asn', 'proto', 'ports', 'note'] as const;
const TARGETS = ['domain', 'cidr', 'asn'] as const;

/** AS numbers: one, or a list of them; sorted, without duplicates. */
function asns(ctx: Ctx, e: Entry, path: string): number[] {
  const v = e.value;
  const items: Array<{ node: Node; path: string }> = isSeq(v)
    ? v.items.map((n, i) => ({ node: deref(ctx, n), path: `${path}[${i}]` }))
    : [{ node: v, path }];
  if (isSeq(v) && items.length === 0) fail(ctx, at(e), `${path}: empty list; list at least one AS number`);
  const out = new Set<number>();
  for (const it of items) {
    if (!isScalar(it.node) || (typeof it.node.value !== 'number' && typeof it.node.value !== 'string')) {
      fail(ctx, it.node ?? at(e), `${it.path}: expected an AS number (like 16509 or "AS16509")${isSeq(v) ? '' : ' or a list of them'}, found ${describe(it.node)}`);
    }
    const c = normaliseAsn(it.node.value);
    if (c.problem !== undefined) fail(ctx, it.node, `${it.path}: ${describe(it.node)} ${c.problem}`);
    out.add(c.value);
  }
  return [...out].sort((a, b) => a - b);
}

function destination(ctx: Ctx, node: Node, path: string): DocumentedDestination {
  const m = mapping(ctx, node, path, DEST_KEYS);
  const domain = m.get('domain');
  const cidr = m.get('cidr');
  const asn = m.get('asn');
  const targets = TARGETS.filter((t) => m.has(t));
  if (targets.length > 1) {
    const list = targets.length === 2 ? `both ${targets.join(' and ')}` : `${targets.slice(0, -1).join(', ')} and ${targets[targets.length - 1]}`;
    fail(ctx, node, `${path}: has ${list}; each entry documents exactly one (split it in ${targets.length === 2 ? 'two' : 'three'})`);
  }
  if (targets.length === 0) fail(ctx, node, `${path}: needs a domain, a cidr or an asn`);
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
  if (asn) d.asn = asns(ctx, asn, `${path}.asn`);
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
    if (d.proto !== undefined && !hasPorts(d.proto)) {
      fail(ctx, p.keyNode, `${path}.ports: proto ${d.proto} has no ports; remove ports or change proto`);
    }
    d.ports = ports(ctx, p, `${path}.ports`);
  }
  const note = m.get('note');
  if (note) d.note = str(ctx, note, `${path}.note`);
  return d;
}

function readName(ctx: Ctx, nameEntry: Entry): string {
  const name = nonEmptyStr(ctx, nameEntry, 'profile');
  if (!PROFILE_NAME_RE.test(name)) {
    fail(
      ctx,
      at(nameEntry),
      `profile: ${quote(name)} is not a valid name (letters, digits, ".", "_" and "-", starting with a letter or digit)`,
    );
  }
  return name;
}

function readMudUrl(ctx: Ctx, url: Entry): string {
  const s = str(ctx, url, 'mud-url');
  const c = checkMudUrl(s);
  if (c.problem !== undefined) fail(ctx, at(url), `mud-url: ${quote(s)} ${c.problem}`);
  return c.value;
}

function readMatch(ctx: Ctx, matchEntry: Entry, hasMudUrl: boolean): DeviceProfile['match'] {
  const out: DeviceProfile['match'] = {};
  const m = mapping(ctx, matchEntry.value, 'match', MATCH_KEYS, matchEntry.keyNode);
  const mac = m.get('mac');
  if (mac) out.mac = strList(ctx, mac, 'match.mac', normaliseMac, 'MAC address');
  const oui = m.get('oui');
  if (oui) out.oui = strList(ctx, oui, 'match.oui', normaliseOui, 'OUI');
  const vendor = m.get('vendor');
  if (vendor) out.vendor = nonEmptyStr(ctx, vendor, 'match.vendor');
  if (m.size === 0 && !hasMudUrl) {
    fail(ctx, at(matchEntry), 'match: needs at least one of mac, oui, vendor (or a top-level mud-url)');
  }
  return out;
}

/** The profile, and the line of its name (where a clash with another file's profile is reported). */
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
  const profile: DeviceProfile = { profile: readName(ctx, nameEntry), match: {}, documented: [] };
  const desc = top.get('description');
  if (desc) profile.description = str(ctx, desc, 'description');
  const url = top.get('mud-url');
  const mud = url ? readMudUrl(ctx, url) : undefined;
  // A MUD URL identifies the device by itself, so match may then be left out.
  const matchEntry = mud === undefined ? need('match', 'a mapping with mac, oui and/or vendor') : top.get('match');
  if (matchEntry) profile.match = readMatch(ctx, matchEntry, mud !== undefined);
  if (mud !== undefined) profile['mud-url'] = mud;

  const docEntry = need('documented', 'a list of destinations; may be empty');
  const list = docEntry.value;
  if (!isSeq(list)) fail(ctx, at(docEntry), `documented: expected a list, found ${describe(list)}`);
  profile.documented = list.items.map((n, i) => destination(ctx, deref(ctx, n), `documented[${i}]`));
  return { profile, nameLine: lineOf(ctx, at(nameEntry)) };
}

/** parseProfileYaml, also giving the line of the profile's name. */
export function parseProfileYamlWithLine(text: string, file: string): { profile: DeviceProfile; nameLine: number } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  const err = doc.errors[0];
  if (err) {
    const detail = err.message.replace(/\s*\n\s*/g, ' ').trim();
    throw new ProfileError('PROFILE_INVALID', file, lc.linePos(err.pos[0]).line, `YAML syntax error: ${detail}`);
  }
  const { profile, nameLine } = validate({ file, doc, lc, aliases: resolveAliases(file, doc, lc) });
  profile.source = file;
  return { profile, nameLine };
}

/** Parses and validates one YAML profile; throws ProfileError (PROFILE_INVALID) naming file and line. */
export function parseProfileYaml(text: string, file: string): DeviceProfile {
  return parseProfileYamlWithLine(text, file).profile;
}

// ---------------------------------------------------------------------------
// Writing.

/**
 * Consecutive runs of three or more ports are written as "low-high" to keep
 * expanded ranges readable; a run longer than a range may be is cut into
 * several, so that the text reads back.
 */
function compressPorts(list: number[]): Array<number | string> {
  const out: Array<number | string> = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1 && j + 1 - i < MAX_PORT_RANGE) j++;
    if (j - i >= 2) out.push(`${list[i]}-${list[j]}`);
    else for (let k = i; k <= j; k++) out.push(list[k]);
    i = j + 1;
  }
  return out;
}

/**
 * The document as text in which no control character stands raw: the yaml
 * package escapes C0 but writes DEL, C1 and the bidirectional controls as
 * they are (notes carry names seen on the wire). Strings holding one are
 * double-quoted, where `\u009b` is an escape that reads back as the character.
 */
function inertYaml(doc: Document): string {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && hasUnsafeText(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return jsonSafe(doc.toString({ lineWidth: 0 }));
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
    if (d.asn !== undefined) e.asn = d.asn.length === 1 ? d.asn[0] : d.asn;
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
  p.documented.forEach((_, i) => {
    flow(['documented', i, 'ports']);
    flow(['documented', i, 'asn']);
  });
  const body = inertYaml(doc);
  if (header === undefined) return body;
  // A comment ends at a line break (CR too): the header's values must not start lines of YAML.
  const lines = header.replace(/\n+$/, '').split('\n').map((l) => (l === '' ? '#' : `# ${terminalSafe(l)}`));
  return `${lines.join('\n')}\n${body}`;
}
