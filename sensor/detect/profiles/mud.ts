// RFC 8520 Manufacturer Usage Description files (JSON encoding of the
// ietf-mud and ietf-access-control-list YANG models) turned into device
// profiles. Only the from-device policy says where a device may go, so only
// the ACLs it references are read.
//
// Real MUD files come in several shapes: the final RFC 8519/8520 one, files
// with "ietf-access-control-list:access-lists" as the container, and
// draft-era files ("acl-name", "acl-type", "access-list-entries",
// "rule-name", "l3"/"l4" wrappers, "permit"/"deny" actions). All are read.
import type { DeviceProfile, DocumentedDestination } from '../../../contract/types.js';
import { ProfileError } from '../../errors.js';
import { JsonLines, jsonSyntaxError, lineAt, type JsonPath as Path } from './positions.js';
import {
  LOCAL_NETWORKS,
  PROFILE_NAME_RE,
  checkMudUrl,
  dedupeDestinations,
  expandPortRange,
  normaliseCidr,
  normaliseDomain,
  protoName,
  sortPorts,
} from './values.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fmtPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? 'top level' : s;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  return `${typeof v} ${typeof v === 'symbol' ? v.description : String(v)}`;
}

/** The file being converted: where its errors point. Lines only when the text was given, not a parsed value. */
class Source {
  private readonly lines: JsonLines | null;

  constructor(
    readonly file: string,
    text: string | null,
  ) {
    this.lines = text === null ? null : new JsonLines(text);
  }

  invalid(path: Path, detail: string): never {
    throw new ProfileError('MUD_INVALID', this.file, this.lines?.line(path) ?? null, detail);
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const where = jsonSyntaxError(text);
    if (where) throw new ProfileError('MUD_INVALID', file, where.line, `invalid JSON: ${where.detail}`);
    const m = /at position (\d+)/.exec((e as Error).message);
    const line = m ? lineAt(text, Number(m[1])) : null;
    throw new ProfileError('MUD_INVALID', file, line, `invalid JSON: ${(e as Error).message.replace(/\s+/g, ' ')}`);
  }
}

interface Acl {
  name: string;
  type: string | null;
  aces: unknown[];
  path: Path;
  acesPath: Path;
}

function getString(src: Source, o: Obj, key: string, path: Path, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) src.invalid(path, `${fmtPath(path)}: missing ${JSON.stringify(key)}`);
    return undefined;
  }
  if (typeof v !== 'string') src.invalid([...path, key], `${fmtPath([...path, key])}: expected a string, found ${kind(v)}`);
  return v;
}

function objAt(src: Source, parent: Obj, key: string, path: Path): Obj | undefined {
  const v = parent[key];
  if (v === undefined) return undefined;
  if (!isObj(v)) src.invalid([...path, key], `${fmtPath([...path, key])}: expected an object, found ${kind(v)}`);
  return v;
}

function arrAt(src: Source, parent: Obj, key: string, path: Path): unknown[] | undefined {
  const v = parent[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) src.invalid([...path, key], `${fmtPath([...path, key])}: expected an array, found ${kind(v)}`);
  return v;
}

/** All ACLs by name, from both container spellings. */
function readAcls(src: Source, root: Obj): Map<string, Acl> {
  const acls = new Map<string, Acl>();
  for (const container of ['ietf-access-control-list:acls', 'ietf-access-control-list:access-lists']) {
    const c = objAt(src, root, container, []);
    if (!c) continue;
    const list = arrAt(src, c, 'acl', [container]) ?? [];
    list.forEach((acl, i) => {
      const path: Path = [container, 'acl', i];
      if (!isObj(acl)) src.invalid(path, `${fmtPath(path)}: expected an object, found ${kind(acl)}`);
      const nameKey = acl['acl-name'] !== undefined ? 'acl-name' : 'name';
      const name = getString(src, acl, nameKey, path, true) as string;
      const typeKey = acl['acl-type'] !== undefined ? 'acl-type' : 'type';
      const type = getString(src, acl, typeKey, path, false) ?? null;
      const acesKey = acl['access-list-entries'] !== undefined ? 'access-list-entries' : 'aces';
      const acesObj = objAt(src, acl, acesKey, path);
      const aces = acesObj ? (arrAt(src, acesObj, 'ace', [...path, acesKey]) ?? []) : [];
      const prev = acls.get(name);
      if (prev) src.invalid([...path, nameKey], `${fmtPath([...path, nameKey])} ${JSON.stringify(name)} is already defined at ${fmtPath(prev.path)}`);
      acls.set(name, { name, type, aces, path, acesPath: [...path, acesKey, 'ace'] });
    });
  }
  return acls;
}

/** What one ACE says about destinations, filled in as its matches are read. */
interface AceReading {
  family: 4 | 6 | null;
  domains: string[];
  cidrs: string[];
  local: boolean;
  proto: string | undefined;
  ports: number[] | undefined;
  classes: string[];
  /** the ACE cannot be mapped faithfully and is left out */
  skip: boolean;
  notes: string[];
}

const stripModule = (s: string) => s.slice(s.indexOf(':') + 1);

const L3_IGNORED = new Set([
  'dscp', 'ecn', 'length', 'ttl', 'ihl', 'flags', 'offset', 'identification', 'flow-label',
  'source-ipv4-network', 'source-ipv6-network', 'ietf-acldns:src-dnsname', 'source-network',
]);
const L4_IGNORED = new Set([
  'flags', 'sequence-number', 'acknowledgement-number', 'data-offset', 'reserved', 'window-size',
  'urgent-pointer', 'options', 'length', 'checksum', 'source-port', 'source-port-range',
]);

function setProto(r: AceReading, proto: string, why: string): void {
  if (r.proto !== undefined && r.proto !== proto) {
    r.notes.push(`${why} contradicts protocol ${r.proto}; left out`);
    r.skip = true;
    return;
  }
  r.proto = proto;
}

/** destination-port (RFC 8519 port-range-or-operator) and the draft destination-port-range. */
function readPorts(r: AceReading, v: unknown, proto: string): void {
  if (!isObj(v)) {
    r.notes.push(`${proto} destination port is ${kind(v)}, not a port match; left out`);
    r.skip = true;
    return;
  }
  const num = (x: unknown) => (typeof x === 'number' ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : NaN);
  if (v['lower-port'] !== undefined || v['upper-port'] !== undefined) {
    const lo = Math.max(1, num(v['lower-port']));
    const hi = num(v['upper-port']);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi > 65535) {
      r.notes.push(`${proto} destination port range ${JSON.stringify(v)} is not valid; left out`);
      r.skip = true;
      return;
    }
    const c = expandPortRange(lo, hi);
    if (c.problem !== undefined) {
      r.notes.push(`${proto} destination ports ${lo}-${hi} ${c.problem}; left out`);
      r.skip = true;
      return;
    }
    r.ports = c.value;
    return;
  }
  const op = typeof v.operator === 'string' ? stripModule(v.operator) : 'eq';
  const port = num(v.port);
  if (op !== 'eq') {
    r.notes.push(`${proto} destination port operator ${JSON.stringify(op)} cannot be written as a port list; left out`);
    r.skip = true;
    return;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    r.notes.push(`${proto} destination port ${kind(v.port)} is not a port number 1-65535; left out`);
    r.skip = true;
    return;
  }
  r.ports = [port];
}

function readL3Field(r: AceReading, key: string, v: unknown, where: string): boolean {
  if (key === 'ietf-acldns:dst-dnsname') {
    const c = typeof v === 'string' ? normaliseDomain(v) : { problem: `is ${kind(v)}` };
    if (c.problem !== undefined) r.notes.push(`dst-dnsname ${kind(v)} ${c.problem}; not mapped`);
    else r.domains.push(c.value);
    return true;
  }
  if (key === 'destination-ipv4-network' || key === 'destination-ipv6-network' || key === 'destination-network') {
    const c = typeof v === 'string' ? normaliseCidr(v) : { problem: `is ${kind(v)}` };
    if (c.problem !== undefined) r.notes.push(`${key} ${kind(v)} ${c.problem}; not mapped`);
    else r.cidrs.push(c.value);
    return true;
  }
  if (key === 'protocol') {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
      r.notes.push(`protocol ${kind(v)} is not an IP protocol number; left out`);
      r.skip = true;
    } else {
      setProto(r, protoName(v), `protocol ${v}`);
    }
    return true;
  }
  if (L3_IGNORED.has(key)) {
    r.notes.push(`${where} field ${JSON.stringify(key)} ignored (says nothing about the destination)`);
    return true;
  }
  return false;
}

function readL4(r: AceReading, proto: 'tcp' | 'udp', o: unknown): void {
  setProto(r, proto, `${proto} match`);
  if (!isObj(o)) return;
  for (const [k, v] of Object.entries(o)) {
    if (k === 'destination-port' || k === 'destination-port-range') readPorts(r, v, proto);
    else if (k === 'ietf-mud:direction-initiated') continue; // who opens the connection, not where it goes
    else if (k === 'source-port' || k === 'source-port-range') r.notes.push(`${proto} source port ignored; only destinations are documented`);
    else if (L4_IGNORED.has(k)) r.notes.push(`${proto} field ${JSON.stringify(k)} ignored`);
    else r.notes.push(`${proto} field ${JSON.stringify(k)} is not understood; ignored`);
  }
}

function readL3(r: AceReading, family: 4 | 6, o: unknown): void {
  r.family = family;
  if (!isObj(o)) return;
  for (const [k, v] of Object.entries(o)) {
    if (!readL3Field(r, k, v, `ipv${family}`)) r.notes.push(`ipv${family} field ${JSON.stringify(k)} is not understood; ignored`);
  }
}

function readMudClasses(r: AceReading, o: unknown): void {
  if (!isObj(o)) {
    r.notes.push(`ietf-mud:mud match is ${kind(o)}; ignored`);
    return;
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'local-networks') r.local = true;
    else if (k === 'my-controller' || k === 'same-manufacturer') r.classes.push(k);
    else if (k === 'controller' || k === 'manufacturer' || k === 'model') r.classes.push(typeof v === 'string' ? `${k} ${v}` : k);
    else r.classes.push(`ietf-mud:mud ${k}`);
  }
}

function readMatches(r: AceReading, m: Obj): void {
  for (const [k, v] of Object.entries(m)) {
    if (k === 'ipv4' || k === 'ipv4-acl') readL3(r, 4, v);
    else if (k === 'ipv6' || k === 'ipv6-acl') readL3(r, 6, v);
    else if (k === 'tcp' || k === 'udp') readL4(r, k, v);
    else if (k === 'icmp') r.notes.push('icmp type/code ignored');
    else if (k === 'ietf-mud:mud') readMudClasses(r, v);
    else if ((k === 'l3' || k === 'l4') && isObj(v)) readMatches(r, v); // draft wrappers around ipv4/ipv6 and tcp/udp
    else if (k === 'destination-port-range' || k === 'destination-port') readPorts(r, v, r.proto ?? 'transport');
    else if (k === 'source-port-range' || k === 'source-port') r.notes.push('source port ignored; only destinations are documented');
    else if (readL3Field(r, k, v, 'matches')) continue; // draft files put L3 fields straight under matches
    else r.notes.push(`match ${JSON.stringify(k)} cannot be mapped to a destination; ignored`);
  }
  if (m.icmp !== undefined && r.proto === undefined) r.proto = r.family === 6 ? 'icmp6' : 'icmp';
}

function familyOfType(type: string | null): 4 | 6 | null {
  if (type === null) return null;
  const t = type.toLowerCase();
  const v4 = t.includes('ipv4');
  const v6 = t.includes('ipv6');
  return v4 && !v6 ? 4 : v6 && !v4 ? 6 : null;
}

/** What an ACE does with the traffic it matches; an ACE without actions accepts it. */
function aceAction(ace: Obj): string {
  const actions = ace.actions;
  if (!isObj(actions)) return 'accept';
  if (typeof actions.forwarding === 'string') return stripModule(actions.forwarding);
  if (actions.deny !== undefined) return 'deny';
  // Not a string: say what it is instead (String() throws on objects without a prototype).
  if (actions.forwarding !== undefined) return kind(actions.forwarding);
  return 'accept';
}

/** The targets an ACE names: its domains and networks, and the local networks of its address family. */
function targetsOf(r: AceReading): DocumentedDestination[] {
  const targets: DocumentedDestination[] = [
    ...r.domains.map((domain) => ({ domain })),
    ...r.cidrs.map((cidr) => ({ cidr })),
  ];
  if (r.local) {
    for (const cidr of LOCAL_NETWORKS) {
      const v6 = cidr.includes(':');
      if (r.family === null || (r.family === 6) === v6) targets.push({ cidr, note: 'local-networks' });
    }
  }
  return targets;
}

function readAce(ace: unknown, j: number, acl: Acl, out: DocumentedDestination[], unmapped: string[]): void {
  const a = isObj(ace) ? ace : {};
  const nm = typeof a.name === 'string' ? a.name : typeof a['rule-name'] === 'string' ? a['rule-name'] : `${acl.name}[${j}]`;
  const label = `from-device ACE ${JSON.stringify(nm)}`;
  if (!isObj(ace)) {
    unmapped.push(`${label}: is ${kind(ace)}, not an ACE`);
    return;
  }
  const action = aceAction(ace);
  if (action !== 'accept' && action !== 'permit') {
    unmapped.push(`${label}: action ${action}; only accepted traffic is documented`);
    return;
  }

  const r: AceReading = {
    family: null,
    domains: [],
    cidrs: [],
    local: false,
    proto: undefined,
    ports: undefined,
    classes: [],
    skip: false,
    notes: [],
  };
  if (isObj(ace.matches)) readMatches(r, ace.matches);
  else if (ace.matches !== undefined) r.notes.push(`matches is ${kind(ace.matches)}; ignored`);
  if (r.family === null) r.family = familyOfType(acl.type);
  for (const n of r.notes) unmapped.push(`${label}: ${n}`);
  if (r.skip) return;
  if (r.classes.length > 0) {
    unmapped.push(`${label} (${r.classes.join(', ')}): no destination address or name`);
    return;
  }
  const targets = targetsOf(r);
  if (targets.length === 0) {
    unmapped.push(`${label}: no destination address or name`);
    return;
  }
  for (const t of targets) {
    const d: DocumentedDestination = t.domain !== undefined ? { domain: t.domain } : { cidr: t.cidr };
    if (r.proto !== undefined) d.proto = r.proto;
    if (r.ports !== undefined) d.ports = sortPorts(r.ports);
    if (t.note !== undefined) d.note = t.note;
    out.push(d);
  }
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function profileName(mfg: string | undefined, model: string | undefined, url: string): string {
  if (mfg !== undefined && model !== undefined) {
    const a = slug(mfg);
    const b = slug(model);
    // "Philips" + "Philips Hue Bridge" should not become philips-philips-hue-bridge
    const s = b.startsWith(`${a}-`) || a === '' ? b : b === '' ? a : `${a}-${b}`;
    if (s !== '') return s;
  }
  const u = new URL(url);
  let path = u.pathname;
  try {
    path = decodeURIComponent(path);
  } catch {
    // a malformed %-escape: slug the path as written
  }
  const fromPath = slug(path.replace(/\.json$/i, ''));
  if (fromPath !== '') return fromPath;
  return slug(u.hostname) || 'mud-device';
}

/** The text of a MUD file given as text or bytes, without a byte-order mark; null for an already parsed value. */
function textOf(json: unknown): string | null {
  if (typeof json !== 'string' && !(json instanceof Uint8Array)) return null;
  const text = typeof json === 'string' ? json : Buffer.from(json).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** What the ietf-mud:mud container says about the device itself. */
interface About {
  url: string;
  systeminfo: string | undefined;
  mfg: string | undefined;
  model: string | undefined;
}

function readAbout(src: Source, mud: Obj, mp: Path): About {
  const url = getString(src, mud, 'mud-url', mp, true) as string;
  const uc = checkMudUrl(url);
  if (uc.problem !== undefined) src.invalid([...mp, 'mud-url'], `ietf-mud:mud.mud-url ${JSON.stringify(url)} ${uc.problem}`);
  const systeminfo = getString(src, mud, 'systeminfo', mp, false);
  const mfg = getString(src, mud, 'mfg-name', mp, false);
  const model = getString(src, mud, 'model-name', mp, false);
  return { url, systeminfo, mfg, model };
}

/**
 * Calls `read` for each ACL the from-device policy names, once each, in the
 * order named. A reference is checked only after the ACLs before it are read,
 * so the first error in the file is the one reported.
 */
function eachFromDeviceAcl(src: Source, mud: Obj, mp: Path, acls: Map<string, Acl>, read: (acl: Acl) => void): void {
  const policy = objAt(src, mud, 'from-device-policy', mp);
  const pp: Path = [...mp, 'from-device-policy'];
  const lists = policy ? objAt(src, policy, 'access-lists', pp) : undefined;
  const refs = lists ? (arrAt(src, lists, 'access-list', [...pp, 'access-lists']) ?? []) : [];
  const done = new Set<string>();
  refs.forEach((ref, i) => {
    const rp: Path = [...pp, 'access-lists', 'access-list', i];
    if (!isObj(ref)) src.invalid(rp, `${fmtPath(rp)}: expected an object, found ${kind(ref)}`);
    const key = ref['acl-name'] !== undefined ? 'acl-name' : 'name';
    const name = getString(src, ref, key, rp, true) as string;
    const acl = acls.get(name);
    if (!acl) src.invalid([...rp, key], `${fmtPath([...rp, key])} ${JSON.stringify(name)} names no ACL`);
    if (done.has(name)) return;
    done.add(name);
    read(acl);
  });
}

/**
 * Converts an RFC 8520 MUD file to a profile. `json` is either the file's
 * text (then syntax and semantic errors carry line numbers) or the parsed
 * value. `unmapped` lists, in words, every part of the from-device policy
 * that could not be expressed as a documented destination.
 */
export function mudToProfile(json: unknown, file: string): { profile: DeviceProfile; unmapped: string[] } {
  const text = textOf(json);
  const root = text === null ? json : parseJson(text, file);
  const src: Source = new Source(file, text);
  if (!isObj(root)) src.invalid([], `top level: expected a JSON object, found ${kind(root)}`);
  const mud = root['ietf-mud:mud'];
  if (mud === undefined) src.invalid([], 'missing "ietf-mud:mud" container; not an RFC 8520 MUD file');
  if (!isObj(mud)) src.invalid(['ietf-mud:mud'], `ietf-mud:mud: expected an object, found ${kind(mud)}`);
  const mp: Path = ['ietf-mud:mud'];
  const about = readAbout(src, mud, mp);

  const acls = readAcls(src, root);
  const documented: DocumentedDestination[] = [];
  const unmapped: string[] = [];
  eachFromDeviceAcl(src, mud, mp, acls, (acl) => acl.aces.forEach((ace, j) => readAce(ace, j, acl, documented, unmapped)));

  let name = profileName(about.mfg, about.model, about.url);
  if (!PROFILE_NAME_RE.test(name)) name = 'mud-device';
  const profile: DeviceProfile = { profile: name, match: {}, 'mud-url': about.url, documented: dedupeDestinations(documented) };
  if (about.systeminfo !== undefined) profile.description = about.systeminfo;
  return { profile, unmapped: [...new Set(unmapped)] };
}
