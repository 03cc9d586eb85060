import { mitre } from '../mitre.js';
import type { Rule, RuleSettings } from '../rule.js';
import { abnormalUpload } from './abnormal-upload.js';
import { beaconing } from './beaconing.js';
import { cleartextCredentials } from './cleartext-credentials.js';
import { dga } from './dga.js';
import { directIp } from './direct-ip.js';
import { dnsTunnel } from './dns-tunnel.js';
import { geoCallback } from './geo-callback.js';
import { portMapping } from './port-mapping.js';
import { inboundExposure } from './inbound-exposure.js';
import { longConnection } from './long-connection.js';
import { scan } from './scan.js';
import { newBehaviour } from './new-behaviour.js';
import { strobe } from './strobe.js';
import { threatIntel } from './threat-intel.js';
import { undocumentedDestination } from './undocumented-destination.js';
import { unprofiledDevice } from './unprofiled-device.js';

/**
 * Every detection rule, once. The detections file's schema, the rule list of
 * the README and of the Prometheus rules are checked against this list
 * (tests/sensor/detect/rules/registry.test.ts). Order is evaluation order:
 * a flow meets the flow rules in this order, and a series the series rules
 * (strobe before beaconing: a strobe is not also a beacon).
 */
// Each rule is typed by its own parameters; the list holds them all.
export const RULES: readonly Rule<any>[] = [
  undocumentedDestination, unprofiledDevice, geoCallback, directIp, threatIntel, strobe, beaconing,
  cleartextCredentials, portMapping, dnsTunnel, dga, scan, inboundExposure, longConnection,
  newBehaviour, abnormalUpload,
];

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

/** Every rule as it ships: the registry's defaults. */
export function defaultRuleSettings(rules: readonly Rule[] = RULES): Record<string, RuleSettings> {
  return Object.fromEntries(
    rules.map((r): [string, RuleSettings] => [r.id, { enabled: r.defaults.enabled, severity: r.defaults.severity, mitre: r.defaults.mitre.map(mitre), params: { ...r.defaults.params } }]),
  );
}
