/**
 * What the DNS rules (dns-tunnel, dga) read in a queried name: the
 * registered domain it falls under (Public Suffix List, through tldts), and
 * how algorithmic its labels look. Names come off the wire: every function
 * here takes any string and stays linear in its length.
 */
import { createRequire } from 'node:module';
import type * as Tldts from 'tldts';

/** tldts (the Public Suffix List) is loaded at the first name asked about: importing it cost a sixth of a run's start-up on files with no DNS. */
let tldts: typeof Tldts | null = null;
const suffixList = (): typeof Tldts => (tldts ??= createRequire(import.meta.url)('tldts') as typeof Tldts);

/** A queried name split at its registered domain. */
export interface DnsSite {
  /** the whole name, lower-case, without a trailing dot */
  name: string;
  /** the registered domain: one label under a suffix of the Public Suffix List ("example.co.uk", "d1.cloudfront.net") */
  domain: string;
  /** the labels left of it ("" for the domain itself) */
  subdomain: string;
  /** the registered domain's own label ("example"): what a domain generation algorithm makes up */
  label: string;
}

/**
 * The registered domain of a queried name, or null for a name no one can
 * register on the Internet: no suffix of the list (".local", ".lan", a
 * search domain appended by a resolver such as "google.com.belkin", a single
 * label), reverse lookups under .arpa, or no label under the suffix.
 * Private suffixes count (cloudfront.net, duckdns.org): under them the
 * registered domain is the zone its customer controls.
 */
export function dnsSite(query: string): Readonly<DnsSite> | null {
  let site = sites.get(query);
  if (site === undefined) {
    if (sites.size >= MAX_SITES) sites.clear();
    sites.set(query, (site = siteOf(query)));
  }
  return site;
}

/** Names remembered by dnsSite: devices ask for the same few names again and again, and the suffix list look-up showed in profiles. */
const MAX_SITES = 8192;
const sites = new Map<string, Readonly<DnsSite> | null>();

function siteOf(query: string): DnsSite | null {
  let name = query.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > 253 || name.endsWith('.arpa')) return null;
  const p = suffixList().parse(name, { allowPrivateDomains: true, extractHostname: false, validateHostname: false });
  if (!p.domain || !p.domainWithoutSuffix || !(p.isIcann || p.isPrivate)) return null;
  return { name, domain: p.domain, subdomain: p.subdomain ?? '', label: p.domainWithoutSuffix };
}

/**
 * The 150 most frequent letter pairs inside words of English prose (counted
 * over English documentation text); they make up about 86 % of the pairs of
 * such text, and 22 % of the pairs of letters drawn at random.
 */
const COMMON_BIGRAMS = new Set(
  ('th he re er in on es en at ti te st or se an de ed al le ng ar io co nd nt ns it ou ma me li ro ll ve ec ra et ur ri ' +
    'ta ce ct is pe as ch il fo us wi pa tr ca ha ge od no ne si nc ea hi ac pr rs ul om so am op ic lo ot fi ts ss pl ad ex ' +
    'ut ef em un to rt su na im di ow po pt la ap mp ty ly el yo ag mi ie rc mo ho rn ol id wh tu be va ue ig lt do bu lu ab ' +
    'fa sc ai gi bl ep um ee pp ob ke ip ck ir rr ni tt vi sp ov pi wa os fu if sa au fe ba cu rm').split(' '),
);

/** Labels shorter than this (letters and digits) are not judged: too little to tell a word from noise. */
export const MIN_SCORED_LENGTH = 6;

const isLetter = (c: number) => c >= 97 && c <= 122;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isVowel = (c: number) => c === 97 || c === 101 || c === 105 || c === 111 || c === 117 || c === 121;
const clamp = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** What nameScore counts in a label. */
interface LabelCounts {
  letters: number;
  digits: number;
  vowels: number;
  /** letter pairs side by side, and how many of them are common in English */
  pairs: number;
  common: number;
  longestConsonantRun: number;
  /** changes from a letter to a digit or back */
  switches: number;
}

function countLabel(s: string): LabelCounts {
  const k: LabelCounts = { letters: 0, digits: 0, vowels: 0, pairs: 0, common: 0, longestConsonantRun: 0, switches: 0 };
  let run = 0;
  let prev = -1;
  let prevKind = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const kind = isLetter(c) ? 1 : isDigit(c) ? 2 : 0;
    if (kind === 0) {
      // a hyphen or anything else separates words
      run = 0;
      prev = -1;
      continue;
    }
    if (prevKind !== 0 && kind !== prevKind) k.switches++;
    prevKind = kind;
    if (kind === 2) {
      k.digits++;
      run = 0;
      prev = -1;
      continue;
    }
    k.letters++;
    if (isVowel(c)) {
      k.vowels++;
      run = 0;
    } else if (++run > k.longestConsonantRun) k.longestConsonantRun = run;
    if (prev >= 0) {
      k.pairs++;
      if (COMMON_BIGRAMS.has(String.fromCharCode(prev, c))) k.common++;
    }
    prev = c;
  }
  return k;
}

/**
 * How algorithmic a label looks, from 0 (words) to 1 (noise). Two views,
 * the larger counts:
 * - letters: three signs that they were not written to be read, weighted
 *   2:1:1: few common English letter pairs (under a quarter of the pairs: 1;
 *   over 60 %: 0), few vowels (a, e, i, o, u, y: a fifth or fewer of the
 *   letters: 1; a third: 0), long consonant runs (3 or fewer: 0; 6 or more: 1);
 * - letters and digits mixed: switches between them (one, as in "mtalk4",
 *   is a word and a number: 0; four or more: 1).
 * Measured on made-up labels of 8-15 characters: 87 % of random letters,
 * 91 % of hex and 95 % of random letters and digits score 0.5 or more, and
 * 5 % of 250 names of real services (msftncsi, snssdk, dyndns: abbreviations).
 * Deterministic, no model to load; labels under MIN_SCORED_LENGTH letters and
 * digits, labels of digits only and internationalised (xn--) labels score 0.
 */
export function nameScore(label: string): number {
  const s = label.toLowerCase();
  if (s.startsWith('xn--')) return 0;
  const k = countLabel(s);
  if (k.letters + k.digits < MIN_SCORED_LENGTH || k.letters === 0) return 0;
  let letters = 0;
  if (k.letters >= 4) {
    const common = k.pairs > 0 ? k.common / k.pairs : 0;
    const rare = clamp((0.6 - common) / 0.35);
    const vowelPoor = clamp((1 / 3 - k.vowels / k.letters) / (1 / 3 - 1 / 5));
    const runs = clamp((k.longestConsonantRun - 3) / 3);
    letters = (2 * rare + vowelPoor + runs) / 4;
  }
  const mixed = clamp((k.switches - 1) / 3);
  return Math.round(Math.max(letters, mixed) * 100) / 100;
}

/**
 * Whether a name's subdomain reads as encoded data, the way DNS tunnels
 * (iodine, dnscat2, dns2tcp) carry it: a label of at least `minLength`
 * characters, or a label of at least 16 letters and digits (no hyphen: the
 * alphabets of base32 and hex have none) that scores as noise.
 */
export function looksEncoded(subdomain: string, minLength: number, minScore: number): boolean {
  let start = 0;
  for (let i = 0; i <= subdomain.length; i++) {
    if (i < subdomain.length && subdomain.charCodeAt(i) !== 0x2e) continue;
    const n = i - start;
    if (n >= minLength) return true;
    if (n >= 16) {
      const label = subdomain.slice(start, i);
      if (!label.includes('-') && nameScore(label) >= minScore) return true;
    }
    start = i + 1;
  }
  return false;
}

/** A 53-bit hash of a string (cyrb53): distinct names are counted by hash, not kept. */
export function nameHash(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
