import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { expandInputs } from '../capture/inputs.js';
import { readCaptureFile, readCaptureStream, type ReadResult } from '../capture/reader.js';
import { judges } from '../detect/engine.js';
import { ProfileLearner } from '../detect/profiles/learn.js';
import { mudToProfile } from '../detect/profiles/mud.js';
import { loadProfiles } from '../detect/profiles/load.js';
import { profileToYaml } from '../detect/profiles/yaml.js';
import { ProfileError, UsageError } from '../errors.js';
import { terminalSafe } from '../../contract/escape.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { loadAnalysis, type AnalysisOptions } from '../pipeline/setup.js';
import { inTimeOrder } from '../run/analyze.js';
import { ANALYSIS_OPTIONS, analysisSettings, parse } from './args.js';

export const PROFILES_HELP = `Usage: phonehome profiles <check|import-mud|suggest> ...

  check DIR                    validate every profile (YAML or MUD .json) in DIR
  import-mud FILE [--out FILE] convert an RFC 8520 MUD file to a YAML profile
                               (printed, or written to --out); reports what it cannot map
  suggest --out DIR capture... draft one profile per device from what it was seen
                               to contact (learning mode); review before use.
                               Analysing the same captures with the drafts (--profiles DIR,
                               the same --geoip and flow options) reports no undocumented
                               destination.
    --geoip FILE               a MaxMind DB (ASN, City, Country); repeatable: notes name the
                               operator and country of each destination
    --by-asn                   document destinations seen without a name by their autonomous
                               system (asn: entries; needs an ASN database, also when analysing)
                               rather than by address (cidr: entries)
    --local-networks, --tcp-timeout, --udp-timeout, --other-timeout, --max-flows
                               as for analyze (phonehome analyze --help): give analyze the
                               same ones, so that it makes the same flows

Examples:
  phonehome profiles check rules/devices
  phonehome profiles import-mud lightbulb2000.json --out rules/devices/lightbulb.yaml
  phonehome profiles suggest --out drafts/ week-of-traffic/
  phonehome analyze week-of-traffic/ --profiles drafts/
`;

export async function runProfiles(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'suggest') return suggest(rest);
  const { values: v, positionals } = parse(rest, { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (sub === undefined || sub === '--help' || sub === '-h' || v.help) {
    process.stdout.write(PROFILES_HELP);
    return sub === undefined ? 2 : 0;
  }
  switch (sub) {
    case 'check': {
      if (positionals.length !== 1) throw new UsageError('profiles check takes one folder (see phonehome profiles --help)');
      const { profiles, warnings } = loadProfiles(positionals[0]);
      for (const w of warnings) process.stderr.write(`phonehome: note: ${terminalSafe(w)}\n`);
      process.stdout.write(`${terminalSafe(positionals[0])}: ${profiles.length} profile(s) valid: ${profiles.map((p) => p.profile).join(', ')}\n`);
      return 0;
    }
    case 'import-mud': {
      if (positionals.length !== 1) throw new UsageError('profiles import-mud takes one MUD file (see phonehome profiles --help)');
      const file = positionals[0];
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new ProfileError('PROFILE_IO', file, null, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new ProfileError('MUD_INVALID', file, null, `not JSON: ${(e as Error).message}`);
      }
      const { profile, unmapped } = mudToProfile(json, file);
      const header = [`Imported from ${basename(file)} (RFC 8520 MUD) by phonehome profiles import-mud.`, ...unmapped.map((u) => `not mapped: ${u}`)];
      const yaml = profileToYaml(profile, header.join('\n'));
      if (v.out) writeFileSync(v.out, yaml);
      else process.stdout.write(yaml);
      for (const u of unmapped) process.stderr.write(`phonehome: not mapped: ${terminalSafe(u)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown profiles command '${sub}' (check, import-mud, suggest)`);
  }
}

// What makes the flows (and what detection judges) the same as analyze's: its options, but those only detection reads.
const { profiles: _profiles, 'no-profiles': _noProfiles, detections: _detections, 'watch-countries': _watch, ...FLOW_OPTIONS } = ANALYSIS_OPTIONS;

const SUGGEST_OPTIONS = {
  ...FLOW_OPTIONS,
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'by-asn': { type: 'boolean' },
} as const;

/**
 * `profiles suggest`: the captures through the one analysis (as analyze reads
 * them: files in the order of their first packet, then stdin), every flow
 * detection judges learnt, one draft per device written.
 */
async function suggest(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, SUGGEST_OPTIONS);
  if (v.help) {
    process.stdout.write(PROFILES_HELP);
    return 0;
  }
  if (!v.out) throw new UsageError('profiles suggest needs --out DIR for the drafts');
  if (positionals.length === 0) throw new UsageError('profiles suggest needs captures to learn from');
  const settings: AnalysisOptions = { ...analysisSettings(v), profilesDir: null };
  const learner = new ProfileLearner({ byAsn: v['by-asn'] });
  const partial = await learnFrom(positionals, settings, learner);
  mkdirSync(v.out, { recursive: true });
  const drafts = learner.drafts((d, flows) =>
    [
      `Drafted by phonehome profiles suggest from ${positionals.join(', ')}:`,
      `what ${d.vendor ?? 'this device'} ${d.mac} was seen to contact (${flows} flow${flows === 1 ? '' : 's'} to the Internet). Review before use:`,
      'learning mode documents everything the device did, including what it should not do.',
      'domain entries are the names flows carried (TLS SNI, HTTP Host or DNS answer);',
      `${v['by-asn'] ? 'asn entries (they need an ASN database, --geoip, when analysing) and ' : ''}cidr entries are destinations reached without one`,
      '(a cidr entry also tells direct-ip that the address is expected to be hard-coded).',
    ].join('\n'),
  );
  for (const d of drafts) {
    const file = join(v.out, `${d.profile.profile}.yaml`);
    writeFileSync(file, d.yaml);
    const kinds = [`${d.byName} by name`, ...(v['by-asn'] ? [`${d.byAsn} by AS`] : []), `${d.byAddress} by address`];
    process.stdout.write(`${terminalSafe(file)}: ${d.profile.documented.length} destination(s) (${kinds.join(', ')}) covering ${d.flows} flow(s)\n`);
  }
  if (learner.flowsWithoutMac > 0) {
    process.stderr.write(`phonehome: note: ${learner.flowsWithoutMac} Internet flow(s) came from hosts without a MAC address (a capture without link layer): no draft covers them, profiles match devices by MAC\n`);
  }
  if (drafts.length === 0) process.stdout.write('no device contacted the Internet: no drafts written\n');
  return partial ? 1 : 0;
}

/** Reads every input through one pipeline, feeding the learner what detection judges; true when an input stopped early. */
async function learnFrom(inputs: string[], settings: AnalysisOptions, learner: ProfileLearner): Promise<boolean> {
  const expanded = expandInputs(inputs);
  const setup = await loadAnalysis(settings);
  // Learn from what the pipeline hands detection, judged as the detector judges it
  // (the same device, ends and destination); the rules' alerts are not wanted.
  const quiet = Object.fromEntries(Object.entries(setup.config.rules).map(([id, r]) => [id, { ...r, enabled: false }]));
  const pipeline = new Pipeline({ ...setup, config: { ...setup.config, rules: quiet } }, settings, {
    enriched: (e) => {
      if (e.dst !== null && judges(e.rec, e.device, e.ends)) learner.add(e.rec, e.device);
    },
  });
  const files = await inTimeOrder(expanded.files.map((f) => f.path));
  let partial = false;
  const read = async (name: string, reading: (sink: Parameters<typeof readCaptureFile>[1]) => Promise<ReadResult>) => {
    const input = pipeline.input();
    const r = await reading(input.sink);
    input.end();
    if (r.error?.unreadable) throw r.error;
    if (r.error) {
      partial = true;
      process.stderr.write(`phonehome: ${terminalSafe(r.error.message)}\n`);
    }
    if (r.truncatedAt !== null) process.stderr.write(`phonehome: note: ${terminalSafe(name)}: capture ends inside a record at byte ${r.truncatedAt}; every complete packet before it was read\n`);
  };
  for (const f of files) await read(f, (sink) => readCaptureFile(f, sink));
  if (expanded.stdin) await read('-', (sink) => readCaptureStream('-', process.stdin, sink));
  pipeline.flushFlows();
  return partial;
}
