import type { Rule } from '../rule.js';
import { beaconing } from './beaconing.js';
import { directIp } from './direct-ip.js';
import { geoCallback } from './geo-callback.js';
import { strobe } from './strobe.js';
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
export const RULES: readonly Rule<any>[] = [undocumentedDestination, unprofiledDevice, geoCallback, directIp, strobe, beaconing];

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);
