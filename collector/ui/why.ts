// Why an alert fired, in words, from its evidence: the sensor's own reason
// sentence first, then the facts of the rule's evidence as a list.
import type { AlertRecord } from '../../contract/types.js';
import { bytes, cut, html, time, type Html } from './html.js';

type Evidence = AlertRecord['evidence'];
type Fact = [string, Html | string];

const list = (xs: readonly (string | number)[] | undefined, max = 10): string =>
  xs && xs.length ? xs.slice(0, max).join(', ') + (xs.length > max ? ` and ${xs.length - max} more` : '') : '–';

function watchFacts(e: Evidence): Fact[] {
  const w = e.watch;
  if (!w) return [];
  const by = w.by.map((b) => (b === 'country' ? `the address is in ${w.country ?? '?'}` : b === 'operator' ? `the operator ${w.operator ?? '?'} (AS${w.asn ?? '?'}) is watched` : b === 'asn' ? `AS${w.asn ?? '?'} is watched` : b === 'name' ? `the name ${w.name ?? '?'} is under a watched suffix` : 'the network is watched'));
  return [['watch list matched', by.join('; ')], ['watched country', w.country ?? '–'], ['addresses', list(e.addresses)]];
}

function beaconFacts(e: Evidence): Fact[] {
  if (e.interval_s === undefined) return [];
  const out: Fact[] = [['interval', `${e.interval_s} s`], ['jitter', `${e.jitter_s ?? '–'} s`], ['connections', String(e.connections ?? e.flows)]];
  if (e.score !== undefined) out.push(['score', String(e.score)]);
  if (e.subscores) out.push(['subscores', `timestamps ${e.subscores.timestamps}, sizes ${e.subscores.sizes}, histogram ${e.subscores.histogram}, duration ${e.subscores.duration}`]);
  if (e.documented !== undefined) out.push(['documented heartbeat', e.documented ? 'yes: the profile lists it' : 'no']);
  return out;
}

function dnsFacts(e: Evidence): Fact[] {
  const out: Fact[] = [];
  if (e.domain) out.push(['domain', e.domain]);
  if (e.subdomains !== undefined) out.push(['distinct names in a window', String(e.subdomains)]);
  if (e.nxdomains !== undefined) out.push(['NXDOMAIN registered domains', String(e.nxdomains)]);
  if (e.qtypes) out.push(['question types', Object.entries(e.qtypes).map(([k, v]) => `${k} ${v}`).join(', ')]);
  if (e.names) out.push(['names asked for', list(e.names)]);
  return out;
}

function otherFacts(e: Evidence): Fact[] {
  const out: Fact[] = [];
  if (e.scan) out.push(['scan', `${e.scan.kind === 'hosts' ? `${e.scan.targets} hosts on ${e.scan.proto ?? ''}/${e.scan.port ?? ''}` : `${e.scan.targets} ports of ${e.scan.host ?? ''}`}${e.scan.estimated ? ' (estimated)' : ''}; ${e.scan.attempts} attempts, ${e.scan.failed} failed, within ${e.scan.window_s} s`]);
  if (e.credentials) out.push(['credentials sent in clear', e.credentials.map((c) => `${c.protocol} user ${c.user ?? '(none)'}${c.password ? `, a password of ${c.password_length ?? '?'} bytes` : ''}`).join('; ')]);
  if (e.port_mappings) out.push(['port mappings asked for', e.port_mappings.map((m) => `${m.method} ${m.protocol ?? ''} external ${m.external_port ?? '?'} → ${m.internal_client ?? '?'}:${m.internal_port ?? '?'}`).join('; ')]);
  if (e.inbound) out.push(['inbound', `${e.inbound.remote_count} Internet hosts connected to ${e.inbound.proto}/${e.inbound.local_port}: ${list(e.inbound.remotes.map((r) => `${r.ip} (${r.country ?? '?'})`), 5)}`]);
  if (e.connection) out.push(['longest connection', `${e.connection.duration_s} s from ${time(e.connection.started)}, ${bytes(e.connection.bytes_out)} out, ${bytes(e.connection.bytes_in)} in`]);
  if (e.novelty) out.push(['new for the device', `${e.novelty.kind}: ${list(e.novelty.values)} (baseline of ${e.novelty.baseline_size}: ${list(e.novelty.baseline, 8)})`]);
  if (e.upload) out.push(['upload window', `${bytes(e.upload.bytes)} from ${time(e.upload.window_start)}; median ${bytes(e.upload.median)}, z ${e.upload.z}`]);
  if (e.intel) out.push(['threat intel', `${e.intel.type} ${e.intel.indicator} of feed ${e.intel.feed} matched the ${e.intel.where} ${e.intel.seen}${e.intel.description ? `: ${e.intel.description}` : ''}`]);
  if (e.profile_entry) out.push(['profile entry', JSON.stringify(e.profile_entry)]);
  return out;
}

/** The reason sentence and the evidence facts of an alert. */
export function whyItFired(a: AlertRecord): Html {
  const e = a.evidence;
  const facts: Fact[] = [
    ['seen', `${time(e.first_seen)} to ${time(e.last_seen)}`],
    ['flows counted', `${e.flows} (${e.packets} packets, ${bytes(e.bytes_out)} out, ${bytes(e.bytes_in)} in)`],
    ...watchFacts(e), ...beaconFacts(e), ...dnsFacts(e), ...otherFacts(e),
  ];
  if (a.device.profile === null && a.rule === 'undocumented-destination') facts.push(['profile', 'none']);
  return html`${e.reason ? html`<p id="reason">${e.reason}</p>` : ''}
<dl class="facts" id="why">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? cut(v, 600) : v}</dd>`)}</dl>
${a.mitre.length ? html`<p>MITRE ATT&amp;CK: ${a.mitre.map((m) => html`<span class="badge">${m.technique} ${m.name}</span> `)}</p>` : ''}`;
}
